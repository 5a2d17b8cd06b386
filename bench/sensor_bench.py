"""Sensor tick cost with many watched upstreams, against moto's S3 server on 127.0.0.1.

Prints seconds per tick and S3 requests per watched upstream for a tick where nothing changed
and one where 10 upstreams published, beside the floor for this server: one concurrent HEAD
of every watched `latest` with plain boto3 (same thread count as the sensor's poll).

    .venv/bin/python bench/sensor_bench.py [--upstreams 10000] [--changed 10]
"""

import argparse
import os
import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

os.environ.update(
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_EC2_METADATA_DISABLED="true",
)

import boto3
import botocore.config
import botocore.httpsession
from dagster import DagsterInstance, DailyPartitionsDefinition, build_sensor_context
from moto_process import start_moto

from lake_assets.dagster_layer import sensors
from lake_assets.dagster_layer.graph import LakeGraph
from lake_assets.dagster_layer.resources import LakeResource
from lake_assets.dagster_layer.sensors import sensor_for_graph
from lake_assets.lake import DatasetId, GrosRef, TagKind
from lake_assets.lake.watch import POLL_WORKERS, Edge

_total = [0]
_lock = threading.Lock()
_original = botocore.httpsession.URLLib3Session.send


def _counting(self, request):
    """Every HTTP request: botocore's own and the store's presigned GETs, which skip
    botocore's endpoint and event machinery."""
    with _lock:
        _total[0] += 1
    return _original(self, request)


botocore.httpsession.URLLib3Session.send = _counting


def requests_during(fn):
    before = _total[0]
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, _total[0] - before, out


def seed(client, bucket: str, datasets: list[DatasetId], date: str) -> None:
    def one(ds: DatasetId) -> None:
        body = b"\x1f\x8b" + b"x" * 10
        client.put_object(Bucket=bucket, Key=f"lake/{ds.data_key(date)}", Body=body)
        ref = GrosRef(repo=ds.repo, branch=ds.branch, date=date, sha256=uuid.uuid4().hex * 2)
        client.put_object(Bucket=bucket, Key=f"lake/{ds.latest_key}", Body=ref.to_json())

    with ThreadPoolExecutor(POLL_WORKERS) as pool:
        list(pool.map(one, datasets))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstreams", type=int, default=10_000)
    parser.add_argument("--changed", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    server, endpoint = start_moto()
    os.environ["AWS_ENDPOINT_URL_S3"] = endpoint
    client = boto3.client("s3", config=botocore.config.Config(max_pool_connections=POLL_WORKERS))
    bucket = "bench"
    client.create_bucket(Bucket=bucket)

    ups = [DatasetId(f"up{i:05d}", "master") for i in range(args.upstreams)]
    downs = [DatasetId(f"down{i:05d}", "master") for i in range(args.upstreams)]
    edges = tuple(Edge(d, u, TagKind.NONE) for u, d in zip(ups, downs, strict=True))
    daily = DailyPartitionsDefinition(start_date="2013-01-01")
    graph = LakeGraph(edges, frozenset(downs), {d: daily for d in downs})
    sensor = sensor_for_graph(graph)

    t0 = time.perf_counter()
    seed(client, bucket, ups, "2013-01-01")
    print(f"seeded {args.upstreams} upstreams in {time.perf_counter() - t0:.1f}s")

    instance = DagsterInstance.ephemeral()
    resource = LakeResource(lake_url=f"s3://{bucket}/lake")
    cursor: list[str | None] = [None]

    def tick():
        ctx = build_sensor_context(
            instance=instance, cursor=cursor[0], resources={"lake": resource}
        )
        result = sensor(ctx)
        cursor[0] = result.cursor
        return result

    first_s, first_n, _ = requests_during(tick)
    print(
        f"first tick: {first_s:.1f}s, {first_n} requests (learns {args.upstreams} pointers, acts "
        f"on {sensors.MAX_CHANGES}, registers {sensors.MAX_REGISTRATIONS} downstreams)"
    )
    bounds = sensors.MAX_CHANGES, sensors.MAX_REGISTRATIONS
    # drain the rest of the first sights and registrations at once, so the ticks measured
    # below are the steady state
    sensors.MAX_CHANGES = sensors.MAX_REGISTRATIONS = len(edges)
    drain_s, _, _ = requests_during(tick)
    sensors.MAX_CHANGES, sensors.MAX_REGISTRATIONS = bounds
    print(f"drain tick (the rest of the first sights and registrations): {drain_s:.1f}s")

    def floor():
        with ThreadPoolExecutor(POLL_WORKERS) as pool:
            list(
                pool.map(
                    lambda ds: client.head_object(Bucket=bucket, Key=f"lake/{ds.latest_key}"), ups
                )
            )

    floor_runs = [requests_during(floor) for _ in range(args.repeat)]
    idle_runs = [requests_during(tick) for _ in range(args.repeat)]
    assert all(not (r[2].run_requests or []) for r in idle_runs), "runs requested with no change"

    changed_runs = []
    for i in range(args.repeat):
        date = f"2013-01-{i + 2:02d}"
        seed(client, bucket, ups[: args.changed], date)
        changed_runs.append(requests_during(tick))
    got = [len(r[2].run_requests or []) for r in changed_runs]

    floor_s = statistics.median(r[0] for r in floor_runs)
    idle_s = statistics.median(r[0] for r in idle_runs)
    changed_s = statistics.median(r[0] for r in changed_runs)
    idle_req = statistics.median(r[1] for r in idle_runs) / args.upstreams
    changed_req = statistics.median(r[1] for r in changed_runs) / args.upstreams

    rows = [
        ("floor: concurrent HEAD of every latest", f"{floor_s:.2f}", "1.00", "", ""),
        (
            "tick, nothing changed",
            f"{idle_s:.2f}",
            f"{idle_s / floor_s:.2f}",
            f"{idle_req:.3f}",
            "0",
        ),
        (
            f"tick, {args.changed} changed",
            f"{changed_s:.2f}",
            f"{changed_s / floor_s:.2f}",
            f"{changed_req:.3f}",
            f"{got}",
        ),
    ]
    print(f"\n{args.upstreams} watched upstreams, moto S3 at {endpoint}, {POLL_WORKERS} threads")
    print(f"{'':42} {'s/tick':>7} {'x floor':>8} {'req/up':>7}  runs requested")
    for name, s, x, r, n in rows:
        print(f"{name:42} {s:>7} {x:>8} {r:>7}  {n}")
    checks = [
        ("tick <= 1.5x floor (nothing changed)", idle_s <= 1.5 * floor_s),
        ("tick <= 1.5x floor (10 changed)", changed_s <= 1.5 * floor_s),
        ("inside the 60 s sensor limit with 25% headroom", max(idle_s, changed_s) < 45),
        ("<= 1.1 requests per watched upstream", max(idle_req, changed_req) <= 1.1),
        ("no run requested when nothing changed", True),
        (
            f"exactly {args.changed} runs when {args.changed} changed",
            all(n == args.changed for n in got),
        ),
    ]
    for name, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    server.terminate()
    server.wait()


if __name__ == "__main__":
    main()
