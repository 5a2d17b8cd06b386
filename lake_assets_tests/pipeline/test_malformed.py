"""A malformed source day fails bronze or silver visibly, publishes nothing, and leaves the
previous `latest` in place; a few bad rows are quarantined, not dropped silently."""

from __future__ import annotations

from typing import Any

import lake_assets
from lake_assets.lake import DatasetId, Lake
from lake_assets.pipeline import nycflights, seed, sources
from lake_assets_tests.pipeline.conftest import run_days

GOOD, MISSING_COLUMN, WRONG_TYPES, FEW_BAD = "2013-01-01", "2013-01-02", "2013-01-03", "2013-01-04"
DOWNSTREAM = ["flights_bronze", "flights_silver", "carrier_ontime_daily"]


def failures(result) -> dict[str, str]:
    return {
        e.step_key: e.step_failure_data.user_failure_data.description
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE" and e.step_failure_data.user_failure_data
    }


def check(result, step: str, name: str):
    [found] = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.step_key == step
        and e.asset_check_evaluation_data.check_name == name
    ]
    return found


def publish_flights(day: str, frame) -> None:
    lake_assets.publish(frame, sources.FLIGHTS, None, day, upstreams=[])
    lake_assets.publish(nycflights.day("weather", day), sources.WEATHER, None, day, upstreams=[])


def latest(lake: Lake, repo: str) -> str:
    return lake.latest_pointer(DatasetId(repo, "master"))[0].date


def test_malformed_days(lake_env: str, resources: dict[str, Any], pipeline_assets, lake: Lake):
    seed.seed(GOOD, GOOD)
    assert run_days(pipeline_assets, resources, GOOD).success

    publish_flights(
        MISSING_COLUMN, nycflights.day("flights", MISSING_COLUMN).drop(columns="carrier")
    )
    result = run_days(pipeline_assets, resources, MISSING_COLUMN, raise_on_error=False)
    assert not result.success
    message = failures(result)["flights_bronze__master"]
    assert f"flights_bronze/master, partition {MISSING_COLUMN}: check 'schema' failed" in message
    assert "the frame breaks FlightsBronze: column_in_dataframe 'carrier'" in message
    assert not check(result, "flights_bronze__master", "schema").passed
    for repo in DOWNSTREAM:
        assert MISSING_COLUMN not in lake_assets.dates(repo), repo
        assert latest(lake, repo) == GOOD

    bad = nycflights.day("flights", WRONG_TYPES).astype({"dep_delay": "str"})
    bad["dep_delay"] = "n/a"
    publish_flights(WRONG_TYPES, bad)
    result = run_days(pipeline_assets, resources, WRONG_TYPES, raise_on_error=False)
    assert not result.success
    message = failures(result)["flights_silver__master"]
    assert f"flights_silver/master, partition {WRONG_TYPES}: check 'quarantine_budget'" in message
    assert "not a number: dep_delay" in message
    q = check(result, "flights_silver__master", "quarantine_budget")
    assert not q.passed and q.metadata["failing_row_count"].value == len(bad)
    assert "n/a" in q.metadata["failing_rows_sample"].value
    assert WRONG_TYPES in lake_assets.dates("flights_bronze"), "bronze keeps it as received"
    for repo in DOWNSTREAM[1:]:
        assert WRONG_TYPES not in lake_assets.dates(repo), repo
        assert latest(lake, repo) == GOOD
    quarantined = lake_assets.read(f"gros://silver_quarantine:{WRONG_TYPES}")
    assert (quarantined["reason"] == "not a number: dep_delay").sum() == len(bad)

    few = nycflights.day("flights", FEW_BAD)
    few.loc[[3, 4], "distance"] = -1
    publish_flights(FEW_BAD, few)
    result = run_days(pipeline_assets, resources, FEW_BAD)
    assert result.success
    assert latest(lake, "flights_silver") == FEW_BAD
    quarantined = lake_assets.read(f"gros://silver_quarantine:{FEW_BAD}")
    assert sorted(
        quarantined.loc[quarantined["reason"].str.startswith("distance"), "source_row"]
    ) == [3, 4]
    q = check(result, "flights_silver__master", "quarantine_budget")
    assert q.passed
    assert q.metadata["quarantined_by_reason"].value["distance: greater_than(0)"] == 2
    assert len(lake_assets.read(f"gros://flights_silver:{FEW_BAD}")) == len(few) - len(quarantined)
