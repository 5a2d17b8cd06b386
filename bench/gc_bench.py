"""Benchmark: `lake gc` of 10,000 superseded versions on S3 (moto's S3 app in a process of
its own, `bench/moto_process.py`).

The lake is seeded straight into moto (`POST /__bench__/seed`): dataset `bench/master` with
DATES dates of VERSIONS superseded versions each (a `versions/` object and its record, last
modified 60 days ago, recorded as created then), each date's current data object and record,
and `latest`; dataset `report/master`, whose current record of each date reads one
superseded version of that date by sha256, so gc must keep DATES of them. Then
`retention.plan` and `retention.apply` run with the default policy (30 days) and every HTTP
request the lake's S3 client sends is counted by kind (listing, GET, DeleteObjects, PUT).

Prints wall times and requests per deleted object, and exits non-zero when the listing plus
the deletes take 0.01 request per deleted object or more, or when what is left is not
exactly what should be.

Usage: .venv/bin/python bench/gc_bench.py [--dates 100] [--versions 100]
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


import boto3
from moto_process import moto_endpoint, seed_objects, use_fake_credentials

from lake_assets.lake import DatasetId, Lake, retention
from lake_assets_tests.s3_requests import watching_requests

use_fake_credentials()

BENCH = DatasetId("bench", "master")
REPORT = DatasetId("report", "master")
BUCKET = "gc-bench"
PREFIX = "lake/"
TARGET = 0.01


def _sha(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def _record(ds: DatasetId, date: str, sha: str, created: str, upstreams: list[dict]) -> str:
    ref = {"repo": ds.repo, "branch": ds.branch, "date": date, "sha256": sha, "bytes": 5}
    return json.dumps(
        {"gros_ref": {**ref, "created_at": created}, "upstreams": upstreams, "producer": {}}
    )


def seed(endpoint: str, dates: int, versions: int) -> tuple[set[str], set[str]]:
    """Seed the lake; the keys gc must remove and the keys it must keep."""
    old = time.time() - 60 * 86400
    created = dt.datetime.fromtimestamp(old, dt.UTC).isoformat()
    now_iso = dt.datetime.now(dt.UTC).isoformat()
    objects: list[tuple[str, str, float | None]] = []
    remove: set[str] = set()
    keep: set[str] = set()
    day0 = dt.date(2024, 1, 1)
    for d in range(dates):
        date = (day0 + dt.timedelta(days=d)).isoformat()
        current = _sha("current", date)
        for ds, upstreams in ((BENCH, []), (REPORT, None)):
            ups = upstreams
            if ups is None:  # report reads the first superseded version of the date
                ref = {"repo": "bench", "branch": "master", "date": date}
                ups = [{**ref, "sha256": _sha("v", date, 0)}]
            sha = current if ds == BENCH else _sha("report", date)
            objects.append((ds.data_key(date), "x,y\n", None))
            objects.append((ds.record_key(date), _record(ds, date, sha, now_iso, ups), None))
            keep |= {ds.data_key(date), ds.record_key(date)}
        for v in range(versions):
            sha = _sha("v", date, v)
            pair = (BENCH.version_key(date, sha), BENCH.version_record_key(date, sha))
            objects.append((pair[0], "x,y\n", old))
            objects.append((pair[1], _record(BENCH, date, sha, created, []), old))
            (keep if v == 0 else remove).update(pair)
    for ds in (BENCH, REPORT):
        latest = {"repo": ds.repo, "branch": ds.branch, "date": date}
        objects.append((ds.latest_key, json.dumps(latest), None))
        keep.add(ds.latest_key)
    objects = [(PREFIX + k, text, when) for k, text, when in objects]
    stored = seed_objects(endpoint, BUCKET, objects)
    assert stored == len(objects) == len(remove) + len(keep)
    return remove, keep


def kind(request: object) -> str:
    method = request.method  # type: ignore[attr-defined]
    query = parse_qs(urlparse(request.url).query, keep_blank_values=True)  # type: ignore[attr-defined]
    if method == "GET" and "list-type" in query:
        return "list"
    if method == "POST" and "delete" in query:
        return "delete"
    return method


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dates", type=int, default=100)
    parser.add_argument("--versions", type=int, default=100)
    args = parser.parse_args()
    with moto_endpoint() as endpoint:
        os.environ["AWS_ENDPOINT_URL_S3"] = endpoint
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
        began = time.perf_counter()
        remove, keep = seed(endpoint, args.dates, args.versions)
        seeded = time.perf_counter() - began
        lake = Lake.open(f"s3://{BUCKET}/{PREFIX}")
        sent: dict[str, collections.Counter[str]] = {"plan": collections.Counter()}
        phase = "plan"
        with watching_requests(lake.store.client, lambda r: sent[phase].update([kind(r)])):
            began = time.perf_counter()
            plan = retention.plan(lake, retention.Policy())
            planned = time.perf_counter() - began
            phase = "apply"
            sent[phase] = collections.Counter()
            began = time.perf_counter()
            log = retention.apply(lake, plan)
            applied = time.perf_counter() - began
        left = {
            o["Key"][len(PREFIX) :]
            for page in boto3.client("s3", endpoint_url=endpoint)
            .get_paginator("list_objects_v2")
            .paginate(Bucket=BUCKET, Prefix=PREFIX)
            for o in page.get("Contents", [])
        }
    superseded = args.dates * args.versions
    deleted = len(plan.keys())
    kept_referenced = sum(len(d.kept) for d in plan.datasets)
    print(
        f"lake: {superseded:,} superseded versions ({2 * superseded:,} objects) over "
        f"{args.dates} dates, {args.dates} of them read by report/master; seeded in "
        f"{seeded:.1f}s"
    )
    print(
        f"plan:  {planned:6.2f}s  {dict(sent['plan'])}  -> {deleted:,} objects to delete, "
        f"{plan.bytes:,} bytes, {kept_referenced} versions kept because referenced"
    )
    print(f"apply: {applied:6.2f}s  {dict(sent['apply'])}  log {log['key']}")
    listing, deletes = sent["plan"]["list"], sent["apply"]["delete"]
    everything = sum(sent["plan"].values()) + sum(sent["apply"].values())
    ratio = (listing + deletes) / deleted
    print(
        f"requests per deleted object: listing + deletes {listing} + {deletes} = "
        f"{ratio:.4f} (target < {TARGET}); all requests {everything} = "
        f"{everything / deleted:.4f} (record GETs: {sent['plan']['GET']})"
    )
    print(
        f"total wall time {planned + applied:.2f}s ({deleted / (planned + applied):,.0f} objects/s)"
    )
    right = left == keep | {log["key"]} and remove.isdisjoint(left) and deleted == len(remove)
    print(f"left exactly the kept objects and the log: {'yes' if right else 'NO'}")
    ok = right and ratio < TARGET
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
