"""The lake sensor through real ticks (`build_sensor_context`) on a local lake and on S3, with
every run it requests executed for real (`materialize`, tagged as the daemon tags it) into the
same instance, so each tick sees what the last one built.

    src_a ──> bronze_a ──┐
                          ├─> silver_ab ──> gold <── ref:latest (never triggers)
    src_b ──> bronze_b ──┘
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pandera.pandas as pa
import pytest
from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterInstance,
    DagsterRunStatus,
    RunRequest,
    SensorResult,
    build_sensor_context,
    materialize,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    SENSOR_NAME_TAG,
)
from dagster._core.test_utils import create_run_for_test

from lake_assets.dagster_layer import sensors
from lake_assets.dagster_layer.build import ExternalSource, build_assets, resolve
from lake_assets.dagster_layer.declare import dataset
from lake_assets.dagster_layer.sensors import SENSOR_NAME, TRIGGER_TAG, build_upstream_sensor
from lake_assets.lake import DatasetId, GrosRef, Lake, StoreUnavailable
from lake_assets_tests.dagster_layer.conftest import lake_resources

SCHEMA = pa.DataFrameSchema({"v": pa.Column(int, pa.Check.ge(0))}, name="Counts")
START = "2013-01-01"
SRC_A, SRC_B, REF = (DatasetId(r, "master") for r in ("src_a", "src_b", "ref"))


@dataset(repo="bronze_a", layer="bronze", schema=SCHEMA, start_date=START,
         upstreams={"a": "gros://src_a"})  # fmt: skip
def bronze_a(a: pd.DataFrame) -> pd.DataFrame:
    return a[["v"]] + FIX[0]


FIX = [0]
"""Added to bronze_a's values: a test changes it as a code fix would."""


@dataset(repo="bronze_b", layer="bronze", schema=SCHEMA, start_date=START,
         upstreams={"b": "gros://src_b"})  # fmt: skip
def bronze_b(b: pd.DataFrame) -> pd.DataFrame:
    return b[["v"]]


@dataset(repo="silver_ab", layer="silver", schema=SCHEMA, start_date=START, heavy=True,
         upstreams={"a": "gros://bronze_a", "b": "gros://bronze_b"})  # fmt: skip
def silver_ab(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"v": [int(a["v"].sum() + b["v"].sum())]})


@dataset(repo="gold", layer="gold", schema=SCHEMA, start_date=START,
         upstreams={"s": "gros://silver_ab", "ref": "gros://ref:latest"})  # fmt: skip
def gold(s: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    return s


GRAPH = resolve(
    [bronze_a, bronze_b, silver_ab, gold],
    "master",
    [ExternalSource(f"gros://{d.repo}") for d in (SRC_A, SRC_B, REF)],
)
ASSETS = build_assets(GRAPH, batch=31)
SENSOR = build_upstream_sensor(GRAPH)
CHAIN = ["master/bronze_a", "master/bronze_b", "master/silver_ab", "master/gold"]


class Deployment:
    """Ticks as the daemon runs them (each from the last tick's cursor), and the runs they
    request executed in the same instance, as the daemon's run launcher would."""

    def __init__(self, lake_url: str) -> None:
        self.instance = DagsterInstance.ephemeral()
        self.lake_url = lake_url
        self.lake = Lake.open(lake_url)
        self.cursor: str | None = None
        self.log: list[str] = []

    def tick(self, lake_url: str | None = None) -> SensorResult:
        context = build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            resources={"lake": lake_assets_resource(lake_url or self.lake_url)},
        )
        result = SENSOR(context)
        assert isinstance(result, SensorResult)
        self.cursor = result.cursor
        return result

    def run(self, request: RunRequest, **tags: str) -> bool:
        """Execute a requested run as the daemon would launch it; False when it failed."""
        result = materialize(
            ASSETS,
            instance=self.instance,
            selection=request.asset_selection,
            partition_key=request.partition_key,
            tags={**request.tags, SENSOR_NAME_TAG: SENSOR_NAME, **tags},
            resources=lake_resources(self.lake_url),
            raise_on_error=False,
        )
        return result.success

    def tick_and_run(self) -> list[tuple[list[str], str]]:
        """One tick, then every run it requested: what was requested, as (assets, days)."""
        result = self.tick()
        for request in result.run_requests or []:
            self.run(request)
        return requested(result)

    def materializations(self, repo: str, day: str) -> int:
        key = AssetKey(["master", repo])
        records = self.instance.fetch_materializations(
            AssetRecordsFilter(asset_key=key, asset_partitions=[day]), limit=100
        ).records
        return len(records)


def lake_assets_resource(url: str) -> Any:
    return lake_resources(url)["lake"]


def requested(result: SensorResult) -> list[tuple[list[str], str]]:
    """Each run request as (its assets, its day or DAY..DAY range)."""
    out = []
    for r in result.run_requests or []:
        keys = ["/".join(k.path) for k in r.asset_selection or []]
        start = r.tags.get(ASSET_PARTITION_RANGE_START_TAG)
        days = f"{start}..{r.tags[ASSET_PARTITION_RANGE_END_TAG]}" if start else r.partition_key
        out.append((keys, days))
    return out


def publish(lake: Lake, ds: DatasetId, date: str, value: int = 1, *, overwrite: bool = False):
    lake.publish(pd.DataFrame({"v": [value]}), ds, date, upstreams=[], overwrite=overwrite)


@pytest.fixture
def dep(lake_url: str) -> Deployment:
    d = Deployment(lake_url)
    publish(d.lake, REF, START)
    return d


def test_a_new_day_of_both_sources_is_one_run_through_the_chain(dep: Deployment) -> None:
    dep.tick_and_run()
    publish(dep.lake, SRC_A, "2013-01-02")
    publish(dep.lake, SRC_B, "2013-01-02")
    result = dep.tick()
    assert requested(result) == [(CHAIN, "2013-01-02")]
    [request] = result.run_requests
    sizing = json.loads(request.tags["dagster-k8s/config"])  # silver_ab is declared heavy
    assert sizing["container_config"]["resources"]["requests"]["memory"] == "8Gi"
    assert request.tags[TRIGGER_TAG] == "bronze_a/master, bronze_b/master for 2013-01-02"
    assert dep.run(request)
    assert dep.tick_and_run() == []  # built from exactly these versions: nothing more
    assert dep.tick_and_run() == []
    for repo in ("bronze_a", "bronze_b", "silver_ab", "gold"):
        assert dep.materializations(repo, "2013-01-02") == 1
    [silver] = dep.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(["master", "silver_ab"])), limit=1
    ).records
    recorded = silver.asset_materialization.metadata["input_versions"].value
    assert recorded == {  # the version tokens of exactly the objects read, as S3 lists them
        str(ds): dep.lake.store.head(ds.data_key("2013-01-02")).etag
        for ds in (DatasetId("bronze_a", "master"), DatasetId("bronze_b", "master"))
    }


def test_a_day_runs_once_every_no_tag_upstream_has_it(dep: Deployment) -> None:
    dep.tick_and_run()
    publish(dep.lake, SRC_A, "2013-01-02")
    assert dep.tick_and_run() == [(["master/bronze_a"], "2013-01-02")]  # src_b lacks the day
    publish(dep.lake, SRC_B, "2013-01-02")
    assert dep.tick_and_run() == [(CHAIN[1:], "2013-01-02")]
    assert dep.tick_and_run() == []


def test_seeded_days_are_built_in_one_batched_run(dep: Deployment) -> None:
    days = ["2013-01-01", "2013-01-02", "2013-01-03"]
    for day in days:
        publish(dep.lake, SRC_A, day)
        publish(dep.lake, SRC_B, day)
    assert dep.tick_and_run() == [(CHAIN, "2013-01-01..2013-01-03")]
    assert dep.tick_and_run() == []
    for day in days:
        assert dep.lake.record(DatasetId("gold", "master"), day) is not None
        assert dep.materializations("silver_ab", day) == 1


def test_a_foreign_republish_of_a_past_day_cascades(dep: Deployment) -> None:
    for day in ("2013-01-01", "2013-01-02", "2013-01-03"):
        publish(dep.lake, SRC_A, day)
        publish(dep.lake, SRC_B, day)
    dep.tick_and_run()
    publish(dep.lake, SRC_B, "2013-01-02", value=5, overwrite=True)  # `latest` does not move
    assert dep.tick_and_run() == [(CHAIN[1:], "2013-01-02")]
    silver = dep.lake.read("gros://silver_ab", partition="2013-01-02")
    assert silver["v"].tolist() == [6]
    assert dep.tick_and_run() == []


def test_a_rematerialization_here_of_an_old_day_cascades(dep: Deployment) -> None:
    for day in ("2013-01-01", "2013-01-02"):
        publish(dep.lake, SRC_A, day)
        publish(dep.lake, SRC_B, day)
    dep.tick_and_run()
    FIX[0] = 1  # a fix to bronze_a's code, then its old day rebuilt by hand
    ui = materialize(  # what the UI's "Materialize" button launches: no sensor tag
        ASSETS,
        instance=dep.instance,
        selection=[AssetKey(["master", "bronze_a"])],
        partition_key="2013-01-01",
        resources=lake_resources(dep.lake_url),
    )
    FIX[0] = 0
    assert ui.success
    assert dep.tick_and_run() == [(CHAIN[2:], "2013-01-01")]
    assert dep.tick_and_run() == []


def test_work_queued_elsewhere_is_not_requested_again(dep: Deployment) -> None:
    dep.tick_and_run()
    publish(dep.lake, SRC_A, "2013-01-02")
    publish(dep.lake, SRC_B, "2013-01-02")
    queued = create_run_for_test(  # a backfill's run, say, waiting in the queue
        dep.instance,
        job_name="__ASSET_JOB",
        status=DagsterRunStatus.STARTED,
        asset_selection=frozenset(AssetKey(k.split("/")) for k in CHAIN),
        tags={"dagster/partition": "2013-01-02"},
    )
    result = dep.tick()
    assert requested(result) == []
    waiting = sensors.Cursor.load(dep.cursor).pending
    assert sorted(str(ds) for ds, _ in waiting) == ["bronze_a/master", "bronze_b/master"]
    # the queued run runs (as its launcher would), then is marked done
    assert materialize(
        ASSETS,
        instance=dep.instance,
        selection=[AssetKey(k.split("/")) for k in CHAIN],
        partition_key="2013-01-02",
        resources=lake_resources(dep.lake_url),
    ).success
    dep.instance.report_run_canceled(queued)
    assert dep.tick_and_run() == []
    assert dep.materializations("gold", "2013-01-02") == 1


def test_a_failed_check_in_a_batch_stops_only_that_days_chain(dep: Deployment) -> None:
    days = ["2013-01-01", "2013-01-02", "2013-01-03"]
    for day in days:
        publish(dep.lake, SRC_A, day, value=-1 if day == "2013-01-02" else 1)
        publish(dep.lake, SRC_B, day)
    result = dep.tick()
    assert requested(result) == [(CHAIN, "2013-01-01..2013-01-03")]
    assert not dep.run(result.run_requests[0])  # bronze_a's check fails on 2013-01-02
    retried = dep.tick()
    below_a = ["master/bronze_a", *CHAIN[2:]]  # bronze_b published all three days
    assert requested(retried) == [
        (below_a, "2013-01-01"),
        (below_a, "2013-01-02"),
        (below_a, "2013-01-03"),
    ]
    outcomes = [dep.run(r) for r in retried.run_requests]
    assert outcomes == [True, False, True]
    assert dep.tick_and_run() == []  # the bad day waits for new inputs
    assert dep.lake.record(DatasetId("gold", "master"), "2013-01-03") is not None
    assert dep.lake.record(DatasetId("bronze_a", "master"), "2013-01-02") is None
    publish(dep.lake, SRC_A, "2013-01-02", value=3, overwrite=True)  # the fix
    assert dep.tick_and_run() == [(below_a, "2013-01-02")]
    assert dep.lake.record(DatasetId("gold", "master"), "2013-01-02") is not None


def test_external_upstreams_are_reported_as_materializations(dep: Deployment) -> None:
    publish(dep.lake, SRC_A, "2013-01-05")
    result = dep.tick()
    events = sorted((e.asset_key.path, e.partition) for e in result.asset_events)
    assert events == [(["master", "src_a"], "2013-01-05")]  # ref is read :latest, unwatched
    meta = result.asset_events[-1].metadata
    assert meta["gros_uri"].value == "gros://src_a/master:2013-01-05"
    assert dep.tick().asset_events == []  # reported once


def test_an_external_day_a_running_run_publishes_is_left_to_that_run(dep: Deployment) -> None:
    """Another location's run publishes a day before it records its materialization: a tick
    in between leaves the day to that run instead of recording a second, run-less one."""
    running = create_run_for_test(
        dep.instance,
        job_name="__ASSET_JOB",
        status=DagsterRunStatus.STARTED,
        asset_selection=frozenset([AssetKey(["master", "src_a"])]),
        tags={"dagster/partition": "2013-01-05"},
    )
    publish(dep.lake, SRC_A, "2013-01-05")
    publish(dep.lake, SRC_A, "2013-01-06")
    events = [(e.asset_key.path, e.partition) for e in dep.tick().asset_events]
    assert events == [(["master", "src_a"], "2013-01-06")]
    dep.instance.report_run_canceled(running)


def test_registrations_name_each_downstream_with_its_tag(dep: Deployment) -> None:
    dep.tick()
    gold_id = DatasetId("gold", "master")
    regs = {}
    for up in (DatasetId("silver_ab", "master"), REF):
        raw = json.loads(dep.lake.store.get(up.registration_key(gold_id)))
        regs[str(up)] = raw["tag"]
        assert (raw["repo"], raw["branch"]) == ("gold", "master")
    assert regs == {"silver_ab/master": None, "ref/master": "latest"}


def test_a_malformed_latest_is_skipped_and_the_rest_still_builds(
    dep: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    dep.tick_and_run()
    publish(dep.lake, SRC_A, "2013-01-02")
    publish(dep.lake, SRC_B, "2013-01-02")
    dep.lake.store.put(SRC_B.latest_key, b"{not json")
    assert dep.tick_and_run() == [(CHAIN, "2013-01-02")]  # the sweep still sees src_b's day
    warning = capsys.readouterr().err
    assert "WARNING - skipped asset/src_b/master/metadata/latest" in warning
    assert "is not a valid GrosRef" in warning
    dep.lake.store.put(
        SRC_B.latest_key, GrosRef(repo="src_b", branch="master", date="2013-01-04").to_json()
    )
    assert dep.tick_and_run() == []
    assert "points at 2013-01-04 but asset/src_b/master/data/2013-01-04.csv.gz is missing" in (
        capsys.readouterr().err
    )


def test_an_unreachable_s3_endpoint_fails_the_tick_and_loses_no_change(
    s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dep = Deployment(f"s3://{s3_bucket}/lake")
    publish(dep.lake, REF, START)
    dep.tick_and_run()
    publish(dep.lake, SRC_A, "2013-01-02")
    publish(dep.lake, SRC_B, "2013-01-02")
    before = dep.cursor
    with monkeypatch.context() as m:
        m.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
        with pytest.raises(
            StoreUnavailable, match=r"cannot reach the S3 endpoint http://127.0.0.1:9"
        ):
            dep.tick()
    assert dep.cursor == before
    assert dep.tick_and_run() == [(CHAIN, "2013-01-02")]


def test_the_sweep_is_spread_over_ticks_and_sees_every_upstream_within_a_pass(
    dep: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    for day in ("2013-01-01", "2013-01-02"):
        publish(dep.lake, SRC_A, day)
        publish(dep.lake, SRC_B, day)
    for _ in range(6):
        dep.tick_and_run()
    monkeypatch.setenv("LAKE_SWEEP_PER_TICK", "1")
    watched = 4  # src_a, src_b, bronze_a, bronze_b, silver_ab: 5 read with no tag
    publish(dep.lake, SRC_A, "2013-01-01", value=7, overwrite=True)
    seen = [dep.tick_and_run() for _ in range(watched + 1)]
    assert [r for r in seen if r] == [[(["master/bronze_a", *CHAIN[2:]], "2013-01-01")]]
