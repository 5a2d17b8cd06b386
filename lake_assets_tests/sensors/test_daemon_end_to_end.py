"""End to end with the daemon: `dagster dev` on a lake served by moto's S3 server, and a
script that publishes a new day of the example sources with plain boto3 (as another team's
CI job would). Bronze, silver and gold for that day appear with no click."""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3

from lake_assets.lake import DatasetId, Lake
from lake_assets.pipeline import sources
from lake_assets_tests.dagster_dev import dagster_dev, dagster_home

DAY = "2013-01-03"
PUBLISH_WITH_BOTO3 = r"""
import hashlib, io, json, sys
import boto3
from lake_assets.pipeline import nycflights

bucket, prefix, day = sys.argv[1:]
s3 = boto3.client("s3")
for repo, table in (("nyc_flights", "flights"), ("nyc_weather", "weather")):
    buf = io.BytesIO()
    nycflights.day(table, day).to_csv(buf, index=False, compression={"method": "gzip"})
    data = buf.getvalue()
    base = f"{prefix}/asset/{repo}/master"
    s3.put_object(Bucket=bucket, Key=f"{base}/data/{day}.csv.gz", Body=data)
    ref = {"repo": repo, "branch": "master", "date": day,
           "sha256": hashlib.sha256(data).hexdigest()}
    s3.put_object(Bucket=bucket, Key=f"{base}/metadata/latest", Body=json.dumps(ref))
"""
EXPECTED = [
    "flights_bronze",
    "weather_bronze",
    "flights_silver",
    "weather_silver",
    "carrier_ontime_daily",
    "origin_weather_delay_daily",
]


def test_a_boto3_publish_runs_bronze_silver_and_gold_by_itself(
    s3_bucket: str, tmp_path: Path
) -> None:
    lake_url = f"s3://{s3_bucket}/lake"
    env = {
        **os.environ,
        "LAKE_URL": lake_url,
        "DAGSTER_HOME": str(dagster_home(tmp_path)),
        "LAKE_SENSOR_INTERVAL": "5",
    }
    sources.publish_references("2013-01-01", lake_url=lake_url)
    lake = Lake.open(lake_url)
    with dagster_dev(env, tmp_path, "daemon_end_to_end") as url:
        _wait_for_first_sensor_tick(url)
        subprocess.run(
            [sys.executable, "-c", PUBLISH_WITH_BOTO3, s3_bucket, "lake", DAY],
            env=env,
            check=True,
            timeout=120,
        )
        missing = EXPECTED
        deadline = time.monotonic() + 420
        while missing and time.monotonic() < deadline:
            time.sleep(3)
            missing = [r for r in EXPECTED if DAY not in lake.dates(DatasetId(r, "master"))]
        assert not missing, f"not published after 420 s: {missing}"
        runs = _finished_runs(url)
    for repo in EXPECTED:
        record = lake.record(DatasetId(repo, "master"), DAY)
        assert record is not None and record.producer["asset_key"] == ["master", repo]
    bronze = lake.record(DatasetId("flights_bronze", "master"), DAY)
    assert bronze is not None
    flights_obj = (
        boto3.client("s3")
        .get_object(Bucket=s3_bucket, Key=f"lake/asset/nyc_flights/master/data/{DAY}.csv.gz")[
            "Body"
        ]
        .read()
    )
    import hashlib

    assert [(u.repo, u.sha256) for u in bronze.upstreams] == [
        ("nyc_flights", hashlib.sha256(flights_obj).hexdigest())
    ]
    triggered = [r for r in runs if any(t["key"] == "lake/triggered_by" for t in r["tags"])]
    assert {r["status"] for r in triggered} == {"SUCCESS"}
    assert len(triggered) >= len(EXPECTED)


def _graphql(url: str, query: str) -> dict:
    body = json.dumps({"query": query}).encode()
    req = urllib.request.Request(
        f"{url}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())["data"]


def _wait_for_first_sensor_tick(url: str) -> None:
    """The sensor's first tick learns the pointers as they are; the publish must come after."""
    query = """{ sensorsOrError(repositorySelector: {repositoryName: "__repository__",
        repositoryLocationName: "lake_assets.definitions"}) { ... on Sensors { results { name
        sensorState { status ticks(limit: 1) { status } } } } } }"""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        sensors = _graphql(url, query)["sensorsOrError"]["results"]
        state = next(s["sensorState"] for s in sensors if s["name"] == "lake_upstream_latest")
        assert state["status"] == "RUNNING"
        if state["ticks"]:
            return
        time.sleep(2)
    raise AssertionError("the sensor never ticked")


def _finished_runs(url: str) -> list[dict]:
    """Every run, once none is queued or running (the quarantine dataset may still be)."""
    query = "{ runsOrError { ... on Runs { results { runId status tags { key value } } } } }"
    deadline = time.monotonic() + 180
    while True:
        runs = _graphql(url, query)["runsOrError"]["results"]
        done = all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs)
        if done or time.monotonic() > deadline:
            return runs
        time.sleep(2)
