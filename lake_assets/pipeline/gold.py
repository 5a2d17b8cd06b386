"""Gold: daily on-time performance per carrier, and departure delay against the weather
per New York airport."""

from __future__ import annotations

import pandas as pd

from lake_assets.dagster_layer.context import DatasetContext
from lake_assets.dagster_layer.declare import dataset
from lake_assets.pipeline import nycflights
from lake_assets.pipeline.schemas import CarrierOnTime, OriginWeatherDelay

OWNERS = ["team:analytics"]
ON_TIME_MINUTES = 15
"""A flight is on time when it arrives less than 15 minutes late (the US DOT rule)."""


@dataset(
    repo="carrier_ontime_daily",
    layer="gold",
    upstreams={"flights": "gros://flights_silver", "airlines": "gros://airlines:latest"},
    schema=CarrierOnTime,
    start_date=nycflights.FIRST_DAY,
    end_date=nycflights.END_DAY,
    owners=OWNERS,
)
def carrier_ontime_daily(
    flights: pd.DataFrame, airlines: pd.DataFrame, context: DatasetContext
) -> pd.DataFrame:
    """Per carrier and day: flights, cancellations, arrivals, on-time arrivals and rate,
    mean departure and arrival delay (minutes)."""
    f = flights.assign(
        arrived=flights["arr_delay"].notna(),
        on_time=flights["arr_delay"] < ON_TIME_MINUTES,
    )
    g = f.groupby("carrier", sort=True).agg(
        flights=("carrier", "size"),
        cancelled=("cancelled", "sum"),
        arrived=("arrived", "sum"),
        on_time=("on_time", "sum"),
        mean_dep_delay=("dep_delay", "mean"),
        mean_arr_delay=("arr_delay", "mean"),
    )
    g["on_time_rate"] = (g["on_time"] / g["arrived"]).where(g["arrived"] > 0)
    names = airlines.set_index("carrier")["name"]
    g["carrier_name"] = names.reindex(g.index).fillna("").to_numpy()
    out = g.reset_index().assign(date=context.partition)
    return out[list(CarrierOnTime.to_schema().columns)]


@dataset(
    repo="origin_weather_delay_daily",
    layer="gold",
    upstreams={"flights": "gros://flights_silver", "weather": "gros://weather_silver"},
    schema=OriginWeatherDelay,
    start_date=nycflights.FIRST_DAY,
    end_date=nycflights.END_DAY,
    owners=OWNERS,
)
def origin_weather_delay_daily(
    flights: pd.DataFrame, weather: pd.DataFrame, context: DatasetContext
) -> pd.DataFrame:
    """Per New York airport and day: departures and mean delay, split by whether it was
    raining at the scheduled hour, with the mean precipitation, visibility and wind."""
    cols = ["origin", "time_hour", "precip", "visib", "wind_speed"]
    f = flights.merge(weather[cols], on=["origin", "time_hour"], how="left")
    departed = f[~f["cancelled"].astype(bool)]
    wet = departed["precip"] > 0
    by = departed.groupby("origin", sort=True)
    out = pd.DataFrame(
        {
            "flights": f.groupby("origin", sort=True).size(),
            "departed": by.size(),
            "mean_dep_delay": by["dep_delay"].mean(),
            "wet_departures": wet.groupby(departed["origin"]).sum(),
            "mean_dep_delay_wet": departed[wet].groupby("origin")["dep_delay"].mean(),
            "mean_dep_delay_dry": departed[~wet].groupby("origin")["dep_delay"].mean(),
            "mean_precip": by["precip"].mean(),
            "mean_visib": by["visib"].mean(),
            "mean_wind_speed": by["wind_speed"].mean(),
        }
    )
    out[["departed", "wet_departures"]] = out[["departed", "wet_departures"]].fillna(0)
    out = out.rename_axis("origin").reset_index().assign(date=context.partition)
    return out[list(OriginWeatherDelay.to_schema().columns)]
