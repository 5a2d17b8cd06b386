"""Silver: typed, deduplicated, checked against the references (read by `latest`), with
every rejected row kept in the quarantine dataset and counted in the run's metadata."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable

import pandas as pd

from lake_assets.dagster_layer.context import DatasetContext
from lake_assets.dagster_layer.declare import dataset
from lake_assets.pipeline import nycflights, references
from lake_assets.pipeline.quality import Split, split_flights, split_weather
from lake_assets.pipeline.schemas import FlightsSilver, QuarantinedRows, WeatherSilver

OWNERS = ["team:data-platform"]
QUARANTINE_BUDGET = 0.05
REFERENCES = {"airlines": "gros://airlines:latest", "airports": "gros://airports:latest"}


_SPLITS: OrderedDict[tuple[str | None, ...], Split] = OrderedDict()
_KEEP = 64


def _split(key: tuple[str | None, ...], compute: Callable[[], Split]) -> Split:
    """Silver and quarantine split the same versions; do it once per process (the versions'
    sha256 are the key, so the same bytes always give the same split)."""
    if None in key:
        return compute()
    if key not in _SPLITS:
        _SPLITS[key] = compute()
        while len(_SPLITS) > _KEEP:
            _SPLITS.popitem(last=False)
    return _SPLITS[key]


def _shas(context: DatasetContext, *names: str) -> tuple[str | None, ...]:
    return tuple(context.refs[n].sha256 if n in context.refs else None for n in names)


def flights_split(
    flights: pd.DataFrame, airlines: pd.DataFrame, airports: pd.DataFrame, ctx: DatasetContext
) -> Split:
    return _split(
        ("flights", *_shas(ctx, "flights", "airlines", "airports")),
        lambda: split_flights(
            flights, references.carriers(airlines), references.airports(airports)
        ),
    )


def weather_split(weather: pd.DataFrame, airports: pd.DataFrame, ctx: DatasetContext) -> Split:
    return _split(
        ("weather", *_shas(ctx, "weather", "airports")),
        lambda: split_weather(weather, references.airports(airports)),
    )


def _report(context: DatasetContext, split: Split) -> pd.DataFrame:
    context.count_input(split.received)
    context.quarantine(split.rejected, split.rejected["_reason"])
    context.metadata["duplicates_dropped"] = split.duplicates
    return split.kept


@dataset(
    repo="flights_silver",
    layer="silver",
    upstreams={"flights": "gros://flights_bronze", **REFERENCES},
    schema=FlightsSilver,
    start_date=nycflights.FIRST_DAY,
    end_date=nycflights.END_DAY,
    owners=OWNERS,
    quarantine_budget=QUARANTINE_BUDGET,
    heavy=True,
)
def flights_silver(
    flights: pd.DataFrame,
    airlines: pd.DataFrame,
    airports: pd.DataFrame,
    context: DatasetContext,
) -> pd.DataFrame:
    """Flights with UTC timestamps, cancellations flagged, duplicates dropped; rows with
    unknown carriers or airports or values breaking FlightsSilver are quarantined."""
    return _report(context, flights_split(flights, airlines, airports, context))


@dataset(
    repo="weather_silver",
    layer="silver",
    upstreams={"weather": "gros://weather_bronze", "airports": REFERENCES["airports"]},
    schema=WeatherSilver,
    start_date=nycflights.FIRST_DAY,
    end_date=nycflights.END_DAY,
    owners=OWNERS,
    quarantine_budget=QUARANTINE_BUDGET,
)
def weather_silver(
    weather: pd.DataFrame, airports: pd.DataFrame, context: DatasetContext
) -> pd.DataFrame:
    """Hourly weather per airport with UTC timestamps, deduplicated and range-checked."""
    return _report(context, weather_split(weather, airports, context))


@dataset(
    repo="silver_quarantine",
    layer="silver",
    upstreams={
        "flights": "gros://flights_bronze",
        "weather": "gros://weather_bronze",
        **REFERENCES,
    },
    schema=QuarantinedRows,
    start_date=nycflights.FIRST_DAY,
    end_date=nycflights.END_DAY,
    owners=OWNERS,
)
def silver_quarantine(
    flights: pd.DataFrame,
    weather: pd.DataFrame,
    airlines: pd.DataFrame,
    airports: pd.DataFrame,
    context: DatasetContext,
) -> pd.DataFrame:
    """Every bronze row silver set aside, with the reason, as JSON of the row received."""
    parts = [
        _rows("flights", flights_split(flights, airlines, airports, context).rejected),
        _rows("weather", weather_split(weather, airports, context).rejected),
    ]
    return pd.concat(parts, ignore_index=True)


def _rows(name: str, rejected: pd.DataFrame) -> pd.DataFrame:
    records = rejected.drop(columns="_reason").to_dict("records")
    return pd.DataFrame(
        {
            "dataset": pd.Series([name] * len(rejected), dtype="str"),
            "reason": rejected["_reason"].astype("str").to_numpy(),
            "source_row": rejected.index.to_numpy(dtype="int64"),
            "record": pd.Series([json.dumps(r, default=str) for r in records], dtype="str"),
        }
    )
