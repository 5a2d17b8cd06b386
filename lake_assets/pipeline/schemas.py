"""The contracts of every layer: pandera for frames, pydantic for reference rows and
ingestion facts. Bronze checks that a delivery has its columns; silver that every row is
typed and plausible; gold that the aggregates are consistent."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series
from pydantic import BaseModel, ConfigDict, Field

from lake_assets.lake.contract.uri import SCHEME

FLIGHTS_RAW = [
    "year",
    "month",
    "day",
    "dep_time",
    "sched_dep_time",
    "dep_delay",
    "arr_time",
    "sched_arr_time",
    "arr_delay",
    "carrier",
    "flight",
    "tailnum",
    "origin",
    "dest",
    "air_time",
    "distance",
    "hour",
    "minute",
    "time_hour",
]
WEATHER_RAW = [
    "origin",
    "year",
    "month",
    "day",
    "hour",
    "temp",
    "dewp",
    "humid",
    "wind_dir",
    "wind_speed",
    "wind_gust",
    "precip",
    "pressure",
    "visib",
    "time_hour",
]
INGESTION_COLUMNS = ("_source_uri", "_source_sha256", "_ingested_at")
UTC = pd.DatetimeTZDtype(unit="us", tz="UTC")


class Airline(BaseModel):
    """One row of the airlines reference snapshot."""

    model_config = ConfigDict(frozen=True)
    carrier: str = Field(pattern=r"^[A-Z0-9]{2}$")
    name: str = Field(min_length=1)


class Airport(BaseModel):
    """One row of the airports reference snapshot."""

    model_config = ConfigDict(frozen=True)
    faa: str = Field(pattern=r"^[A-Z0-9]{3,4}$")
    name: str = Field(min_length=1)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    alt: int
    tz: int = Field(ge=-12, le=14)


class Ingestion(BaseModel):
    """Where a bronze partition came from, as the lake recorded the read."""

    model_config = ConfigDict(frozen=True)
    source_uri: str = Field(pattern=f"^{SCHEME}" + r"[^:]+:\d{4}-\d{2}-\d{2}$")
    source_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    ingested_at: dt.datetime


def _bronze(name: str, raw: list[str]) -> pa.DataFrameSchema:
    """As received: every delivered column must be there, with whatever values it holds."""
    columns = {c: pa.Column(None, nullable=True, required=True) for c in raw}
    columns["_source_uri"] = pa.Column(str, pa.Check.str_startswith(SCHEME))
    columns["_source_sha256"] = pa.Column(str, pa.Check.str_matches(r"^[0-9a-f]{64}$"))
    columns["_ingested_at"] = pa.Column(UTC, coerce=True)
    return pa.DataFrameSchema(columns, name=name)


FlightsBronze = _bronze("FlightsBronze", FLIGHTS_RAW)
WeatherBronze = _bronze("WeatherBronze", WEATHER_RAW)


class FlightsSilver(pa.DataFrameModel):
    """A scheduled departure from a New York airport, typed, deduplicated and checked."""

    flight_date: Series[str] = pa.Field(str_matches=r"^\d{4}-\d{2}-\d{2}$")
    carrier: Series[str] = pa.Field(str_matches=r"^[A-Z0-9]{2}$")
    flight: Series[int] = pa.Field(gt=0)
    tailnum: Series[str] = pa.Field(nullable=True)
    origin: Series[str] = pa.Field(str_matches=r"^[A-Z0-9]{3,4}$")
    dest: Series[str] = pa.Field(str_matches=r"^[A-Z0-9]{3,4}$")
    sched_dep_at: Series[UTC] = pa.Field(description="scheduled departure, UTC")
    dep_at: Series[UTC] = pa.Field(nullable=True, description="actual departure, UTC")
    time_hour: Series[UTC] = pa.Field(description="scheduled hour, UTC (weather key)")
    dep_delay: Series[float] = pa.Field(nullable=True, ge=-180, le=24 * 60)
    arr_delay: Series[float] = pa.Field(nullable=True, ge=-180, le=24 * 60)
    air_time: Series[float] = pa.Field(nullable=True, gt=0, le=24 * 60)
    distance: Series[int] = pa.Field(gt=0, le=10_000)
    cancelled: Series[bool]

    class Config:
        name = "FlightsSilver"
        coerce = True
        unique: ClassVar[list[str]] = ["carrier", "flight", "origin", "sched_dep_at"]

    @pa.dataframe_check
    def cancelled_iff_no_departure(cls, df: pd.DataFrame) -> Series[bool]:
        return df["cancelled"] == df["dep_at"].isna()


class WeatherSilver(pa.DataFrameModel):
    """An hourly observation at a New York airport, typed and range-checked."""

    origin: Series[str] = pa.Field(str_matches=r"^[A-Z0-9]{3,4}$")
    time_hour: Series[UTC]
    temp: Series[float] = pa.Field(nullable=True, ge=-60, le=130)
    dewp: Series[float] = pa.Field(nullable=True, ge=-80, le=100)
    humid: Series[float] = pa.Field(nullable=True, ge=0, le=100)
    wind_dir: Series[float] = pa.Field(nullable=True, ge=0, le=360)
    wind_speed: Series[float] = pa.Field(nullable=True, ge=0, le=200)
    wind_gust: Series[float] = pa.Field(nullable=True, ge=0, le=250)
    precip: Series[float] = pa.Field(ge=0, le=10)
    pressure: Series[float] = pa.Field(nullable=True, ge=900, le=1100)
    visib: Series[float] = pa.Field(ge=0, le=100)

    class Config:
        name = "WeatherSilver"
        coerce = True
        unique: ClassVar[list[str]] = ["origin", "time_hour"]


class QuarantinedRows(pa.DataFrameModel):
    """Source rows that silver set aside, with why, so nothing is dropped silently."""

    dataset: Series[str] = pa.Field(isin=["flights", "weather"])
    reason: Series[str]
    source_row: Series[int] = pa.Field(ge=0)
    record: Series[str] = pa.Field(description="the source row as JSON")

    class Config:
        name = "QuarantinedRows"
        coerce = True


class CarrierOnTime(pa.DataFrameModel):
    """Daily on-time performance of a carrier out of New York (on time: < 15 min late)."""

    date: Series[str] = pa.Field(str_matches=r"^\d{4}-\d{2}-\d{2}$")
    carrier: Series[str]
    carrier_name: Series[str]
    flights: Series[int] = pa.Field(gt=0)
    cancelled: Series[int] = pa.Field(ge=0)
    arrived: Series[int] = pa.Field(ge=0)
    on_time: Series[int] = pa.Field(ge=0)
    on_time_rate: Series[float] = pa.Field(nullable=True, ge=0, le=1)
    mean_dep_delay: Series[float] = pa.Field(nullable=True)
    mean_arr_delay: Series[float] = pa.Field(nullable=True)

    class Config:
        name = "CarrierOnTime"
        coerce = True
        unique: ClassVar[list[str]] = ["date", "carrier"]

    @pa.dataframe_check
    def counts_consistent(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["on_time"] <= df["arrived"]) & (df["arrived"] + df["cancelled"] <= df["flights"])


class OriginWeatherDelay(pa.DataFrameModel):
    """Daily departure delay per New York airport against the weather at departure."""

    date: Series[str] = pa.Field(str_matches=r"^\d{4}-\d{2}-\d{2}$")
    origin: Series[str]
    flights: Series[int] = pa.Field(gt=0)
    departed: Series[int] = pa.Field(ge=0)
    mean_dep_delay: Series[float] = pa.Field(nullable=True)
    wet_departures: Series[int] = pa.Field(ge=0)
    mean_dep_delay_wet: Series[float] = pa.Field(nullable=True)
    mean_dep_delay_dry: Series[float] = pa.Field(nullable=True)
    mean_precip: Series[float] = pa.Field(nullable=True, ge=0)
    mean_visib: Series[float] = pa.Field(nullable=True, ge=0)
    mean_wind_speed: Series[float] = pa.Field(nullable=True, ge=0)

    class Config:
        name = "OriginWeatherDelay"
        coerce = True
        unique: ClassVar[list[str]] = ["date", "origin"]
