"""Bronze: each source day exactly as received, plus where and when it was ingested."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from lake_assets.dagster_layer.context import DatasetContext
from lake_assets.dagster_layer.declare import dataset
from lake_assets.pipeline import nycflights
from lake_assets.pipeline.schemas import FlightsBronze, Ingestion, WeatherBronze

OWNERS = ["team:data-platform"]


def ingest(raw: pd.DataFrame, context: DatasetContext, upstream: str) -> pd.DataFrame:
    """`raw` untouched, with the version read (from the lineage record) and the time."""
    ref = context.refs[upstream]
    info = Ingestion(
        source_uri=ref.version_uri,
        source_sha256=ref.sha256 or "",
        ingested_at=dt.datetime.now(dt.UTC),
    )
    return raw.assign(
        _source_uri=info.source_uri,
        _source_sha256=info.source_sha256,
        _ingested_at=pd.Timestamp(info.ingested_at),
    )


@dataset(
    repo="flights_bronze",
    layer="bronze",
    upstreams={"flights": "gros://nyc_flights"},
    schema=FlightsBronze,
    start_date=nycflights.FIRST_DAY,
    end_date=nycflights.END_DAY,
    owners=OWNERS,
)
def flights_bronze(flights: pd.DataFrame, context: DatasetContext) -> pd.DataFrame:
    """The daily flights extract of nyc_flights as received, with its ingestion record."""
    return ingest(flights, context, "flights")


@dataset(
    repo="weather_bronze",
    layer="bronze",
    upstreams={"weather": "gros://nyc_weather"},
    schema=WeatherBronze,
    start_date=nycflights.FIRST_DAY,
    end_date=nycflights.END_DAY,
    owners=OWNERS,
)
def weather_bronze(weather: pd.DataFrame, context: DatasetContext) -> pd.DataFrame:
    """The hourly weather of nyc_weather for one day as received, with its ingestion record."""
    return ingest(weather, context, "weather")
