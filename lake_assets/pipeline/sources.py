"""The sources, published the way another team's CI job would: through the public API,
knowing nothing of Dagster. Daily flights and weather extracts, and reference snapshots."""

from __future__ import annotations

from typing import Any

import lake_assets
from lake_assets.lake import GrosRef
from lake_assets.pipeline import nycflights

FLIGHTS = "nyc_flights"
WEATHER = "nyc_weather"
AIRLINES = "airlines"
AIRPORTS = "airports"
DAILY = {FLIGHTS: "flights", WEATHER: "weather"}
REFERENCES = {AIRLINES: "airlines", AIRPORTS: "airports"}


def publish_day(date: str, *, overwrite: bool = False, **storage_options: Any) -> list[GrosRef]:
    """The flights and weather extracts of one day (AlreadyPublished unless `overwrite`)."""
    return [
        lake_assets.publish(
            nycflights.day(table, date),
            repo,
            None,
            date,
            upstreams=[],
            overwrite=overwrite,
            **storage_options,
        )
        for repo, table in DAILY.items()
    ]


def publish_references(
    date: str, *, overwrite: bool = False, **storage_options: Any
) -> list[GrosRef]:
    """Snapshots of the airline and airport references, dated `date`."""
    return [
        lake_assets.publish(
            nycflights.table(table),
            repo,
            None,
            date,
            upstreams=[],
            overwrite=overwrite,
            **storage_options,
        )
        for repo, table in REFERENCES.items()
    ]
