"""End to end with the daemon: `dagster dev` (web server and daemon) on a lake served by
moto's S3 server, the lake sensor ticking for real, everything observed through GraphQL, the
lake and the instance's own storage.

One `dagster dev` serves the first tests in turn (the days the lake holds when it starts, a
new day published with plain boto3, a foreign republish of a past day, a rematerialization
from the UI, an S3 outage); it reaches S3 through a proxy the test can take down, while the
test publishes directly. The docs' backfill
gets a deployment of its own, with a sensor interval long enough to submit it between two
ticks. Every count is exact: a day goes through bronze, silver and gold in one run, and a
partition is never built twice from the same inputs."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

from lake_assets.lake import DatasetId, Lake
from lake_assets.pipeline import nycflights, sources
from lake_assets_tests.dagster_dev import (
    LOCATION,
    ROOT,
    SENSOR,
    WebServer,
    dagster_dev,
    dagster_home,
)
from lake_assets_tests.tcp_proxy import TcpProxy, tcp_proxy

REPOSITORY = "__repository__"
SENSOR_TAG = "dagster/sensor_name"
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
BACKFILL_TAG = "dagster/backfill"
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")

DATASETS = [
    "flights_bronze",
    "weather_bronze",
    "flights_silver",
    "weather_silver",
    "silver_quarantine",
    "carrier_ontime_daily",
    "origin_weather_delay_daily",
]
BELOW_FLIGHTS_BRONZE = [
    "flights_silver",
    "silver_quarantine",
    "carrier_ontime_daily",
    "origin_weather_delay_daily",
]
READ_NYC_FLIGHTS = ["flights_bronze", *BELOW_FLIGHTS_BRONZE]
SEEDED = ("2013-01-01", "2013-01-03")
"""The days of the sources in the lake when the shared deployment starts."""
pytestmark = pytest.mark.daemon


@dataclass
class Deployment(WebServer):
    """A running `dagster dev` on a lake in its own bucket, and what the test sees of it."""

    home: Path
    bucket: str
    lake_url: str
    env: dict[str, str]
    proxy: TcpProxy | None = None
    first_tick: dict = field(default_factory=dict)
    _instance: DagsterInstance | None = field(default=None, repr=False)

    @functools.cached_property
    def lake(self) -> Lake:
        return Lake.open(self.lake_url)  # straight to moto, as the test publishes

    @property
    def instance(self) -> DagsterInstance:
        """The instance `dagster dev` writes to, opened in this process (read only here)."""
        if self._instance is None:
            saved = os.environ.get("DAGSTER_HOME")
            os.environ["DAGSTER_HOME"] = str(self.home)  # dagster.yaml reads it
            try:
                self._instance = DagsterInstance.from_config(str(self.home))
            finally:
                if saved is None:
                    os.environ.pop("DAGSTER_HOME", None)
                else:
                    os.environ["DAGSTER_HOME"] = saved
        return self._instance

    def materializations(self, repo: str, day: str) -> int:
        records = self.instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey(["master", repo]), asset_partitions=[day]),
            limit=100,
        ).records
        return len(records)

    def counts(self, days: list[str]) -> dict[tuple[str, str], int]:
        return {(r, d): self.materializations(r, d) for r in DATASETS for d in days}

    def created(self, days: list[str]) -> dict[tuple[str, str], str | None]:
        """When each dataset's production record of each day was written (None: none)."""
        out = {}
        for repo in DATASETS:
            for day in days:
                record = self.lake.record(DatasetId(repo, "master"), day)
                out[(repo, day)] = str(record.gros_ref.created_at) if record else None
        return out

    def runs(self) -> list[Run]:
        query = """{ runsOrError { ... on Runs { results { runId status endTime
            tags { key value } assetSelection { path } } } } }"""
        return [Run.of(r) for r in self.graphql(query)["runsOrError"]["results"]]

    def right_after_a_tick(self) -> dict:
        """Return as soon as a tick has ended, so what the test does next (quickly) lands
        before the next tick: a day's two sources land in the same tick, as they would when
        published a second apart with ticks 30 s apart."""
        return self.tick_ended(after=time.time())

    def settle(self, since: float | None = None, timeout: float = 420) -> list[Run]:
        """Every run, once none is queued or running and two ticks that started after the
        last one ended, and after `since` (default: now), have requested nothing."""
        since = time.time() if since is None else since
        deadline = time.monotonic() + timeout
        while True:
            runs = self.runs()
            if all(r.status in FINISHED for r in runs):
                quiet_since = max([since, *(r.ended or 0.0 for r in runs)])
                quiet = [
                    t
                    for t in self.ticks()
                    if t["timestamp"] > quiet_since
                    and t["status"] in ("SKIPPED", "SUCCESS")
                    and not t["runIds"]
                ]
                if len(quiet) >= 2 and len(self.runs()) == len(runs):
                    return runs
            if time.monotonic() > deadline:
                unfinished = [(r.run_id, r.status) for r in runs if r.status not in FINISHED]
                raise AssertionError(f"not settled after {timeout} s; unfinished: {unfinished}")
            time.sleep(1)


def seed(lake_url: str, start: str, end: str) -> None:
    """The documented seed command (days the lake has are skipped), straight to moto."""
    subprocess.run(
        [sys.executable, "-m", "lake_assets.pipeline.seed", "--start", start, "--end", end],
        cwd=ROOT,
        env={**os.environ, "LAKE_URL": lake_url},
        check=True,
        timeout=120,
    )


@dataclass(frozen=True)
class Run:
    run_id: str
    status: str
    tags: dict[str, str]
    assets: list[str]
    ended: float | None

    @classmethod
    def of(cls, raw: dict) -> Run:
        tags = {t["key"]: t["value"] for t in raw["tags"]}
        assets = sorted(k["path"][-1] for k in raw["assetSelection"] or [])
        return cls(raw["runId"], raw["status"], tags, assets, raw["endTime"])

    @property
    def by_sensor(self) -> bool:
        return self.tags.get(SENSOR_TAG) == SENSOR

    @property
    def days(self) -> tuple[str, str] | None:
        if PARTITION_TAG in self.tags:
            return self.tags[PARTITION_TAG], self.tags[PARTITION_TAG]
        if RANGE_START_TAG in self.tags:
            return self.tags[RANGE_START_TAG], self.tags[RANGE_END_TAG]
        return None

    def covers(self, day: str) -> bool:
        return self.days is not None and self.days[0] <= day <= self.days[1]


@contextlib.contextmanager
def start_deployment(
    s3_endpoint: str,
    tmp: Path,
    name: str,
    interval: int,
    *,
    through_proxy: bool,
    seeded: tuple[str, str] | None = None,
) -> Iterator[Deployment]:
    """References published (and the `seeded` days of the sources), then `dagster dev`
    with the sensor every `interval` s, once its first tick has ended."""
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    lake_url = f"s3://{bucket}/lake"
    sources.publish_references("2013-01-01", lake_url=lake_url)
    if seeded:
        seed(lake_url, *seeded)
    home = dagster_home(tmp)
    with tcp_proxy(s3_endpoint) as proxy:
        env = {
            **os.environ,
            "LAKE_URL": lake_url,
            "DAGSTER_HOME": str(home),
            "LAKE_SENSOR_INTERVAL": str(interval),
            "AWS_ENDPOINT_URL_S3": proxy.url if through_proxy else s3_endpoint,
        }
        with dagster_dev(env, tmp, name) as url:
            dep = Deployment(url, home, bucket, lake_url, env, proxy if through_proxy else None)
            dep.first_tick = dep.tick_ended(after=0)
            try:
                yield dep
            finally:
                if dep._instance is not None:
                    dep._instance.dispose()


@pytest.fixture(scope="module")
def deployment(s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("daemon_end_to_end")
    with start_deployment(
        s3_endpoint, tmp, "daemon_end_to_end", 5, through_proxy=True, seeded=SEEDED
    ) as dep:
        yield dep


def csv_gz(table: str, day: str, drop: int = 0) -> bytes:
    buf = io.BytesIO()
    nycflights.day(table, day).iloc[drop:].to_csv(
        buf, index=False, compression={"method": "gzip", "mtime": 0}
    )
    return buf.getvalue()


def day_objects(day: str) -> dict[str, bytes]:
    return {"nyc_flights": csv_gz("flights", day), "nyc_weather": csv_gz("weather", day)}


def put_with_boto3(bucket: str, day: str, objects: dict[str, bytes], *, latest: bool) -> None:
    """Data objects (and `latest` pointers) written directly to S3, no lake code involved."""
    s3 = boto3.client("s3")  # straight to moto, whatever the deployment goes through
    for repo, data in objects.items():
        base = f"lake/asset/{repo}/master"
        s3.put_object(Bucket=bucket, Key=f"{base}/data/{day}.csv.gz", Body=data)
        if latest:
            ref = {
                "repo": repo,
                "branch": "master",
                "date": day,
                "sha256": hashlib.sha256(data).hexdigest(),
            }
            s3.put_object(Bucket=bucket, Key=f"{base}/metadata/latest", Body=json.dumps(ref))


def new_runs(runs: list[Run], before: set[str]) -> list[Run]:
    return [r for r in runs if r.run_id not in before]


def describe(runs: list[Run]) -> list[tuple[bool, str, tuple[str, str] | None, list[str]]]:
    return sorted((r.by_sensor, r.status, r.days, r.assets) for r in runs)


def test_the_days_in_the_lake_at_start_are_built_in_one_batched_run(
    deployment: Deployment,
) -> None:
    runs = deployment.settle(since=0)
    first = [r for r in runs if r.covers(SEEDED[0])]
    assert describe(first) == [(True, "SUCCESS", SEEDED, sorted(DATASETS))]
    assert PARTITION_TAG not in first[0].tags  # one run over the range, not a run per day
    if len(runs) == 1:  # nothing else has run yet (the other tests rebuild some of them)
        days = ["2013-01-01", "2013-01-02", "2013-01-03"]
        assert deployment.counts(days) == {(r, d): 1 for r in DATASETS for d in days}
        for repo in DATASETS:
            for day in days:
                record = deployment.lake.record(DatasetId(repo, "master"), day)
                assert record is not None and record.producer["run_id"] == first[0].run_id


def test_a_boto3_publish_of_a_new_day_is_one_run_through_every_dataset(
    deployment: Deployment,
) -> None:
    day = "2013-01-05"  # `latest` moves from 2013-01-03 (2013-01-04 comes later)
    before = {r.run_id for r in deployment.settle(since=0)}
    objects = day_objects(day)
    deployment.right_after_a_tick()
    put_with_boto3(deployment.bucket, day, objects, latest=True)
    runs = new_runs(deployment.settle(), before)

    assert describe(runs) == [(True, "SUCCESS", (day, day), sorted(DATASETS))]
    lake = deployment.lake
    for repo in DATASETS:
        record = lake.record(DatasetId(repo, "master"), day)
        assert record is not None, repo
        assert record.producer["asset_key"] == ["master", repo]
        assert record.producer["run_id"] == runs[0].run_id
    assert deployment.counts([day]) == {(r, day): 1 for r in DATASETS}
    bronze = lake.record(DatasetId("flights_bronze", "master"), day)
    assert bronze is not None
    assert [(u.repo, u.sha256) for u in bronze.upstreams] == [
        ("nyc_flights", hashlib.sha256(objects["nyc_flights"]).hexdigest())
    ]


def test_a_foreign_republish_of_a_past_day_rebuilds_exactly_what_reads_it(
    deployment: Deployment,
) -> None:
    days = ["2013-01-01", "2013-01-02", "2013-01-03"]
    settled = deployment.settle(since=0)
    assert all(r.status == "SUCCESS" for r in settled), describe(settled)
    counts, created = deployment.counts(days), deployment.created(days)
    assert None not in created.values(), created
    latest = deployment.lake.latest_pointer(DatasetId("nyc_flights", "master"))
    before = {r.run_id for r in settled}

    day = "2013-01-02"
    fewer = csv_gz("flights", day, drop=25)  # rows withdrawn upstream; `latest` not touched
    put_with_boto3(deployment.bucket, day, {"nyc_flights": fewer}, latest=False)
    runs = new_runs(deployment.settle(), before)

    assert describe(runs) == [(True, "SUCCESS", (day, day), sorted(READ_NYC_FLIGHTS))]
    rebuilt = {(r, day) for r in READ_NYC_FLIGHTS}
    assert deployment.counts(days) == {k: n + (k in rebuilt) for k, n in counts.items()}
    now = deployment.created(days)
    assert {k for k in created if now[k] != created[k]} == rebuilt
    bronze = deployment.lake.read("gros://flights_bronze", partition=day)
    assert len(bronze) == len(nycflights.day("flights", day)) - 25
    assert deployment.lake.latest_pointer(DatasetId("nyc_flights", "master")) == latest


def test_a_rematerialization_from_the_ui_reruns_what_is_below_it_in_one_run(
    deployment: Deployment,
) -> None:
    day = "2013-01-01"
    settled = deployment.settle(since=0)
    counts = deployment.counts([day])
    assert all(counts.values()), counts
    before = {r.run_id for r in settled}

    launched = deployment.graphql(
        """mutation Launch($params: ExecutionParams!) { launchRun(executionParams: $params) {
            __typename ... on LaunchRunSuccess { run { runId } } ... on Error { message } } }""",
        params={
            "selector": {
                "repositoryLocationName": LOCATION,
                "repositoryName": REPOSITORY,
                "jobName": "__ASSET_JOB",
                "assetSelection": [{"path": ["master", "flights_bronze"]}],
            },
            "executionMetadata": {"tags": [{"key": PARTITION_TAG, "value": day}]},
        },
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    by_hand = launched["run"]["runId"]
    runs = new_runs(deployment.settle(), before)

    assert describe(runs) == [
        (False, "SUCCESS", (day, day), ["flights_bronze"]),
        (True, "SUCCESS", (day, day), sorted(BELOW_FLIGHTS_BRONZE)),
    ]
    assert by_hand in {r.run_id for r in runs if not r.by_sensor}
    rebuilt = {(r, day) for r in READ_NYC_FLIGHTS}
    assert deployment.counts([day]) == {k: n + (k in rebuilt) for k, n in counts.items()}


def test_an_s3_outage_fails_ticks_and_the_day_still_runs_once_after_it(
    deployment: Deployment,
) -> None:
    assert deployment.proxy is not None
    day = "2013-01-06"
    before = {r.run_id for r in deployment.settle(since=0)}
    objects = day_objects(day)
    deployment.right_after_a_tick()
    put_with_boto3(deployment.bucket, day, objects, latest=True)  # straight to moto
    deployment.proxy.down()
    down_at = time.time()
    try:
        failed = deployment.tick_ended(after=down_at, timeout=120)
        assert failed["status"] == "FAILURE", failed
        error = failed["error"] or {}
        messages = [error.get("message", ""), *(c["message"] for c in error.get("causes", []))]
        assert any("cannot reach the S3 endpoint" in m for m in messages), failed
        assert failed["runIds"] == []
        assert new_runs(deployment.runs(), before) == []
    finally:
        deployment.proxy.up()
    runs = new_runs(deployment.settle(), before)

    assert describe(runs) == [(True, "SUCCESS", (day, day), sorted(DATASETS))]
    for repo in DATASETS:
        assert deployment.lake.record(DatasetId(repo, "master"), day) is not None, repo
    assert deployment.counts([day]) == {(r, day): 1 for r in DATASETS}


def test_the_documented_backfill_while_the_sensor_runs_builds_each_day_once(
    s3_endpoint: str, tmp_path: Path
) -> None:
    """The sensor defers what the backfill covers and rebuilds nothing it built. The seed and
    the backfill are submitted between two sensor ticks: a tick in between would see the
    new days before the backfill exists and build them itself first (then the backfill, a
    user's explicit request, rebuilds them), which is not what this test is about."""
    days = [f"2013-01-0{d}" for d in range(1, 8)]
    interval = 75  # seed and backfill take about 30 s idle, 50 s with other tests running
    with start_deployment(
        s3_endpoint, tmp_path, "daemon_backfill", interval, through_proxy=False
    ) as dep:
        tick = dep.first_tick  # it has just ended: the next is `interval` s after it began
        started = time.time()
        seed(dep.lake_url, days[0], days[-1])
        subprocess.run(
            [
                str(Path(sys.executable).with_name("dagster")),
                *("job", "backfill", "-m", LOCATION, "-j", "lake_pipeline"),
                *("--from", days[0], "--to", days[-1], "--noprompt"),
            ],
            cwd=ROOT,
            env=dep.env,
            check=True,
            timeout=120,
        )
        submitted = time.time()
        print(f"seed and backfill submitted in {submitted - started:.1f} s")
        between = [t for t in dep.ticks() if tick["timestamp"] < t["timestamp"] < submitted]
        assert between == [], (
            f"a tick came between the seed and the backfill (submitted {submitted - started:.0f}"
            f" s after the seed began, {submitted - tick['timestamp']:.0f} s after the last tick"
            f" began): the machine is too slow for a {interval} s interval"
        )
        runs = dep.settle(timeout=480)

        assert [r for r in runs if r.by_sensor] == []
        backfill = [r for r in runs if BACKFILL_TAG in r.tags]
        assert sorted((r.status, r.days) for r in backfill) == [("SUCCESS", (d, d)) for d in days]
        assert len(runs) == len(backfill)
        assert dep.counts(days) == {(r, d): 1 for r in DATASETS for d in days}
