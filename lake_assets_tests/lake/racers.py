"""Publishers for the race test, importable by spawned processes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from lake_assets.lake import DatasetId, Lake

RACE = DatasetId("race", "master")
START = dt.date(2024, 1, 1)


def round_dates(rnd: int) -> tuple[str, str]:
    """The two dates raced in a round; every round's are newer than the last round's."""
    return (
        (START + dt.timedelta(days=2 * rnd)).isoformat(),
        (START + dt.timedelta(days=2 * rnd + 1)).isoformat(),
    )


def racer(url: str, me: int, rounds: int, barrier: Any, failures: Any) -> None:
    """Publish one date a round, the two racers released together; racer 0 then checks that
    `latest` holds the round's newer date (the newer one alternates between racers)."""
    lake = Lake.open(url)
    df = pd.DataFrame({"who": [me]})
    for rnd in range(rounds):
        older, newer = round_dates(rnd)
        mine = newer if (rnd + me) % 2 else older
        barrier.wait()
        lake.publish(df, RACE, mine, upstreams=[])
        barrier.wait()
        if me == 0:
            got = lake.resolve(f"gros://{RACE}:latest").date
            if got != newer:
                failures.put(f"round {rnd}: latest is {got}, not {newer}")


def replacer(url: str, me: int, rounds: int, barrier: Any) -> None:
    """Replace one date each round, the two replacers released together, each with bytes of
    its own, so every round makes two versions of which one supersedes the other."""
    lake = Lake.open(url)
    for rnd in range(rounds):
        barrier.wait()
        lake.publish(
            pd.DataFrame({"who": [me], "round": [rnd]}),
            RACE,
            START.isoformat(),
            upstreams=[],
            overwrite=True,
        )
