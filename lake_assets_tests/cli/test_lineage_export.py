"""`lake lineage export --openlineage URL|FILE`: every version's run (current and kept), sent
to a real receiver, valid against the OpenLineage schemas, the same events each time."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from lake_assets.lake import DatasetId, Lake
from lake_assets_tests.openlineage_receiver import Receiver, dead_url, validate

UP = DatasetId("flights", "master")
DOWN = DatasetId("report", "master")
DAY = "2024-01-02"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    got = Receiver()
    yield got
    got.close()


def made(lake: Lake) -> dict[str, str]:
    """flights DAY twice (the first kept), report read the first; their sha256s."""
    first = lake.publish(pd.DataFrame({"id": [1]}), UP, DAY, upstreams=[])
    down = lake.publish(pd.DataFrame({"n": [1]}), DOWN, DAY, upstreams=[first])
    second = lake.publish(pd.DataFrame({"id": [2]}), UP, DAY, upstreams=[], overwrite=True)
    return {"first": first.sha256, "second": second.sha256, "down": down.sha256}


def test_export_sends_every_version_with_its_inputs_and_again_the_same(
    cli, lake: Lake, receiver: Receiver
) -> None:
    shas = made(lake)
    got = cli("lineage", "export", "--openlineage", receiver.url, "--json").ok().json()
    assert got == {"events": 6, "versions": 3, "datasets": 2, "target": receiver.url}
    events = receiver.take()
    assert receiver.paths == ["/api/v1/lineage"] * 6
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"] * 3
    outputs = [
        e["outputs"][0]["facets"]["version"]["datasetVersion"]
        for e in events
        if e["eventType"] == "COMPLETE"
    ]
    assert outputs == [shas["first"], shas["down"], shas["second"]]  # in the order made
    (down,) = [e for e in events if e["eventType"] == "COMPLETE" and e["job"]["name"] == str(DOWN)]
    assert [i["facets"]["version"]["datasetVersion"] for i in down["inputs"]] == [shas["first"]]

    text = cli("lineage", "export", "--openlineage", receiver.url).ok().out
    assert "exported 6 events (3 versions of 2 datasets)" in text
    assert receiver.take() == events


def test_export_to_a_path_a_file_and_stdout(cli, lake: Lake, receiver: Receiver, tmp_path: Path):
    made(lake)
    cli("lineage", "export", "--openlineage", f"{receiver.url}/custom/lineage").ok()
    assert set(receiver.paths) == {"/custom/lineage"} and len(receiver.take()) == 6
    out = tmp_path / "events.jsonl"
    cli("lineage", "export", "--openlineage", str(out)).ok()
    cli("lineage", "export", "--openlineage", str(out)).ok()  # rewritten, not appended
    lines = out.read_text().splitlines()
    assert len(lines) == 6
    for line in lines:
        validate(json.loads(line))
    assert cli("lineage", "export", "--openlineage", "-").ok().out.splitlines() == lines


def test_export_since_a_date(cli, lake: Lake, tmp_path: Path) -> None:
    made(lake)
    today = dt.datetime.now(dt.UTC).date()
    out = tmp_path / "e.jsonl"
    since = cli("lineage", "export", "--openlineage", str(out), "--since", str(today), "--json")
    assert since.ok().json()["versions"] == 3
    later = str(today + dt.timedelta(days=1))
    assert (
        cli("lineage", "export", "--openlineage", str(out), "--since", later, "--json")
        .ok()
        .json()["events"]
        == 0
    )
    cli("lineage", "export", "--openlineage", str(out), "--since", "yesterday").error("yesterday")


def test_export_to_a_dead_receiver_is_one_line(cli, lake: Lake) -> None:
    made(lake)
    url = dead_url()
    message = cli("lineage", "export", "--openlineage", url).error(url, "did not answer")
    assert "after 0 events were sent" in message


def test_lineage_of_a_version_still_reads_as_before(cli, lake: Lake) -> None:
    made(lake)
    assert "flights/master" in cli("lineage", f"gros://report:{DAY}", "--up").ok().out
    assert "export" in cli("lineage", "--help").ok().out
