"""Three days of sources published as another team would, bronze through gold materialized,
and every object of GROS_SPEC §3 checked, with gold against pandas on the raw data."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid

import boto3
import numpy as np
import pandas as pd
import pytest

import lake_assets
from lake_assets.lake import DatasetId, Lake
from lake_assets.pipeline import seed
from lake_assets_tests.dagster_layer.conftest import lake_resources
from lake_assets_tests.pipeline.conftest import raw, raw_day, run_days

DAYS = ["2013-01-01", "2013-01-02", "2013-01-03"]
REF_DAY = DAYS[0]


def ds(repo: str) -> DatasetId:
    return DatasetId(repo, "master")


def expected_upstreams(day: str) -> dict[str, set[tuple[str, str]]]:
    refs = {("airlines", REF_DAY), ("airports", REF_DAY)}
    return {
        "flights_bronze": {("nyc_flights", day)},
        "weather_bronze": {("nyc_weather", day)},
        "flights_silver": {("flights_bronze", day), *refs},
        "weather_silver": {("weather_bronze", day), ("airports", REF_DAY)},
        "silver_quarantine": {("flights_bronze", day), ("weather_bronze", day), *refs},
        "carrier_ontime_daily": {("flights_silver", day), ("airlines", REF_DAY)},
        "origin_weather_delay_daily": {("flights_silver", day), ("weather_silver", day)},
    }


def sha(lake: Lake, dataset: DatasetId, date: str) -> str:
    return hashlib.sha256(lake.store.get(dataset.data_key(date))).hexdigest()


@pytest.fixture(scope="module", params=["local", "s3"])
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, pipeline_assets
):
    """The three days built once per lake kind for the whole module: every test only reads."""
    if request.param == "local":
        url = str(tmp_path_factory.mktemp("pipeline") / "lake")
    else:
        bucket = f"pipeline-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", endpoint_url=request.getfixturevalue("s3_endpoint")).create_bucket(
            Bucket=bucket
        )
        url = f"s3://{bucket}/lake"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LAKE_URL", url)
        started = dt.datetime.now(dt.UTC)
        seed.seed(DAYS[0], DAYS[-1])
        first = run_days(pipeline_assets, lake_resources(url), DAYS[0])
        rest = run_days(pipeline_assets, lake_resources(url), DAYS[1], DAYS[2])
        assert first.success and rest.success
        yield url, (started, first, rest)


@pytest.fixture
def materialized(built):
    return built[1]


@pytest.fixture
def lake(built) -> Lake:
    return Lake.open(built[0])


def test_every_object_of_the_spec(materialized, lake: Lake) -> None:
    _, first, rest = materialized
    for day in DAYS:
        for repo, ups in expected_upstreams(day).items():
            dataset = ds(repo)
            assert lake.store.head(dataset.data_key(day)), f"{repo} has no data for {day}"
            record = lake.record(dataset, day)
            assert record is not None, f"{repo} {day} has no production record"
            assert record.gros_ref.date == day
            assert record.gros_ref.sha256 == sha(lake, dataset, day)
            assert {(u.repo, u.date) for u in record.upstreams} == ups
            for up in record.upstreams:
                assert up.sha256 == sha(lake, up.dataset, up.date), f"{repo} <- {up.uri}"
                audits = {(d.repo, d.date) for d in lake.downstream_versions(up.dataset, up.date)}
                assert (repo, day) in audits or up.date == REF_DAY, (up, audits)
                if up.date == REF_DAY:
                    assert repo in {r for r, _ in audits}
            producer = record.producer
            assert producer["asset_key"] == ["master", repo]
            assert producer["function"].startswith("lake_assets.pipeline.")
            assert producer["function"].endswith("." + repo)
            assert producer["code_version"] and producer["run_id"] in {first.run_id, rest.run_id}
    for repo in expected_upstreams(DAYS[0]):
        ref, _ = lake.latest_pointer(ds(repo))
        assert ref.date == DAYS[-1]
        assert ref.sha256 == sha(lake, ds(repo), DAYS[-1])


def test_materializations_show_the_lineage(materialized) -> None:
    _, first, rest = materialized
    by_key = {
        e.asset_key.path[-1]: e.materialization.metadata
        for e in first.get_asset_materialization_events()
    }
    ups = by_key["flights_silver"]["upstreams"].value
    assert {(u["repo"], u["date"]) for u in ups} == expected_upstreams(DAYS[0])["flights_silver"]
    assert by_key["flights_silver"]["gros_uri"].value == f"gros://flights_silver/master:{DAYS[0]}"
    partitions = {
        (e.asset_key.path[-1], e.partition) for e in rest.get_asset_materialization_events()
    }
    assert ("carrier_ontime_daily", DAYS[1]) in partitions
    assert ("carrier_ontime_daily", DAYS[2]) in partitions


def test_bronze_is_the_source_as_received_with_ingestion(materialized, lake: Lake) -> None:
    started, _, _ = materialized
    for day in DAYS:
        bronze = lake_assets.read(f"gros://flights_bronze:{day}")
        assert set(bronze["_source_uri"]) == {f"gros://nyc_flights/master:{day}"}
        assert set(bronze["_source_sha256"]) == {sha(lake, ds("nyc_flights"), day)}
        ingested = pd.to_datetime(bronze["_ingested_at"], utc=True)
        assert (ingested >= started).all() and (ingested <= dt.datetime.now(dt.UTC)).all()
        received = bronze.drop(columns=["_source_uri", "_source_sha256", "_ingested_at"])
        pd.testing.assert_frame_equal(
            received, raw_day("flights", day), check_dtype=False, check_exact=False
        )


def valid_flights(day: str) -> pd.DataFrame:
    f = raw_day("flights", day)
    airports = set(raw("airports")["faa"])
    carriers = set(raw("airlines")["carrier"])
    ok = f["dest"].isin(airports) & f["origin"].isin(airports) & f["carrier"].isin(carriers)
    return f[ok]


@pytest.mark.parametrize("day", DAYS)
def test_gold_on_time_matches_pandas_on_the_raw_data(materialized, day: str) -> None:
    f = valid_flights(day)
    expected = (
        f.assign(
            arrived=f["arr_delay"].notna(),
            on_time=f["arr_delay"] < 15,
            cancelled=f["dep_time"].isna(),
        )
        .groupby("carrier")
        .agg(
            flights=("flight", "size"),
            cancelled=("cancelled", "sum"),
            arrived=("arrived", "sum"),
            on_time=("on_time", "sum"),
            mean_dep_delay=("dep_delay", "mean"),
            mean_arr_delay=("arr_delay", "mean"),
        )
    )
    gold = lake_assets.read(f"gros://carrier_ontime_daily:{day}").set_index("carrier")
    assert sorted(gold.index) == sorted(expected.index)
    for col in ["flights", "cancelled", "arrived", "on_time"]:
        assert gold[col].to_dict() == expected[col].astype(int).to_dict(), col
    np.testing.assert_allclose(
        gold["on_time_rate"], (expected.on_time / expected.arrived)[gold.index]
    )
    np.testing.assert_allclose(gold["mean_dep_delay"], expected["mean_dep_delay"][gold.index])
    np.testing.assert_allclose(gold["mean_arr_delay"], expected["mean_arr_delay"][gold.index])
    names = raw("airlines").set_index("carrier")["name"]
    assert gold["carrier_name"].to_dict() == names[gold.index].to_dict()
    assert set(gold["date"]) == {day}


@pytest.mark.parametrize("day", DAYS)
def test_gold_weather_delay_matches_pandas_on_the_raw_data(materialized, day: str) -> None:
    f = valid_flights(day)
    w = raw_day("weather", day).drop_duplicates(["origin", "time_hour"])
    j = f.merge(
        w[["origin", "time_hour", "precip", "visib", "wind_speed"]],
        on=["origin", "time_hour"],
        how="left",
    )
    dep = j[j["dep_time"].notna()]
    gold = lake_assets.read(f"gros://origin_weather_delay_daily:{day}").set_index("origin")
    assert gold["flights"].to_dict() == j.groupby("origin").size().to_dict()
    assert gold["departed"].to_dict() == dep.groupby("origin").size().to_dict()
    assert gold["wet_departures"].to_dict() == (
        (dep["precip"] > 0).groupby(dep["origin"]).sum().to_dict()
    )
    for col, series in {
        "mean_dep_delay": dep.groupby("origin")["dep_delay"].mean(),
        "mean_dep_delay_dry": dep[~(dep["precip"] > 0)].groupby("origin")["dep_delay"].mean(),
        "mean_precip": dep.groupby("origin")["precip"].mean(),
        "mean_visib": dep.groupby("origin")["visib"].mean(),
        "mean_wind_speed": dep.groupby("origin")["wind_speed"].mean(),
    }.items():
        np.testing.assert_allclose(gold[col], series[gold.index], err_msg=col)


def test_silver_keeps_what_the_references_know_and_quarantines_the_rest(
    materialized, lake: Lake
) -> None:
    airports = set(raw("airports")["faa"])
    for day in DAYS:
        f = raw_day("flights", day)
        silver = lake_assets.read(f"gros://flights_silver:{day}")
        assert len(silver) == len(valid_flights(day))
        assert silver["cancelled"].sum() == valid_flights(day)["dep_time"].isna().sum()
        assert str(silver["sched_dep_at"].dtype) == "datetime64[us, UTC]"
        q = lake_assets.read(f"gros://silver_quarantine:{day}")
        unknown = f[~f["dest"].isin(airports)]
        assert len(q) == len(unknown) > 0
        assert set(q["reason"]) == {f"unknown airport: {d}" for d in unknown["dest"]}
        assert sorted(json.loads(r)["dest"] for r in q["record"]) == sorted(unknown["dest"])
        assert len(silver) + len(q[q["dataset"] == "flights"]) == len(f)
