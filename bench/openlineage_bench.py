"""openlineage_bench: what OpenLineage events cost a publish, and `lake lineage export`'s rate.

Publish cost: a local lake; one upstream dataset is read first (so every COMPLETE event names
an input version, as a pipeline step's does), then `Lake.publish` of a 1,000-row frame (the
io_bench columns: ints, floats, a str, a datetime) to distinct dates, with OpenLineage off (no
`OPENLINEAGE_*` in the environment) and on (`OPENLINEAGE_URL` naming an HTTP receiver in a
process of its own on 127.0.0.1, which answers 200 to `POST /api/v1/lineage`), interleaved in
pairs (who goes first alternates). A publish only queues its events; the sender's thread sends
them. So each "on" publish is timed twice: (a) the call itself, (b) the call and
`openlineage.flush()` of its two events; and an untimed flush follows every "on" publish, so
the next measurement (on or off) never shares the GIL with the previous one's sending. A third
line times batches of back-to-back publishes and one flush at the end (the sender then works
while the next publishes run, as in a step that publishes many dates), and a fourth the
process's CPU over (b), the sender's thread included. Every publish is checked: the receiver
must have got a START and a COMPLETE with an input for each.

Export rate: a lake of `--datasets` x `--dates` versions written with `Lake.publish_encoded`
of a pre-encoded 10-row frame, each dataset reading the one before it at the same date and
every fifth also the first (a chain with fan-in), plus `--kept` versions kept by `overwrite`
republishes of other bytes (10,000 production records by default). Then `export(lake,
target)` to a JSON-lines file and to the receiver, interleaved, events per second; and
listing and reading the records alone, which every export does first. With `--store both`
(the default) the same records are also exported from moto's S3 app in a process of its own
(`bench/moto_process.py`), seeded straight with the lake's `dependency/` objects and `latest`
pointers (export never reads data objects). Each export must give 2 events per record.

Exits non-zero when (a) exceeds the target (at most 5% over "off") or a check fails.

    .venv/bin/python bench/openlineage_bench.py [--repeat 200] [--store local|s3|both]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
from io_bench import make_frame, print_markdown

from lake_assets.lake import DatasetId, Lake, openlineage
from lake_assets.lake.codec import columns as colspec
from lake_assets.lake.codec import gzip_csv as codec
from lake_assets.lake.contract.refs import GrosRef
from lake_assets.lake.openlineage.export import export, record_keys, records

UPSTREAM = DatasetId("bench", "upstream")
OUT = DatasetId("bench", "published")
UP_DATE = "2024-01-01"
DAY0 = dt.date(2000, 1, 1)
BUCKET = "openlineage-bench"
TARGET = 1.05
"""Publish with OpenLineage on may take at most this many times the publish with it off."""
ENDPOINT = "/api/v1/lineage"


def serve_receiver(port: int) -> None:
    """Answer 200 to every POST and count what came; `GET /count` gives the counts."""
    counts: dict[str, Any] = {"events": 0, "START": 0, "COMPLETE": 0, "with_input": 0}
    counts["other"] = 0
    runs: dict[str, set[str]] = {"START": set(), "COMPLETE": set()}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as any real receiver

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path == ENDPOINT:
                event = json.loads(body)
                kind = event.get("eventType")
                counts["events"] += 1
                if kind in runs:
                    counts[kind] += 1
                    runs[kind].add(event["run"]["runId"])
                    counts["with_input"] += kind == "COMPLETE" and bool(event.get("inputs"))
                else:
                    counts["other"] += 1
            self.send_response(200 if self.path == ENDPOINT else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            paired = len(runs["START"] & runs["COMPLETE"])
            body = json.dumps({**counts, "paired_runs": paired}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


@contextmanager
def receiver() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, __file__, "--receiver", str(port)])
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("the receiver did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def received(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/count", timeout=30) as answer:
        return json.loads(answer.read())


def switch(url: str | None) -> None:
    """OpenLineage on (events to `url`) or off (no `OPENLINEAGE_URL`)."""
    if url is None:
        os.environ.pop("OPENLINEAGE_URL", None)
    else:
        os.environ["OPENLINEAGE_URL"] = url
    assert openlineage.enabled() == (url is not None), "OPENLINEAGE_* set outside the bench"


def flushed() -> None:
    if not openlineage.flush(60):
        raise RuntimeError(f"events not sent within 60 s: {openlineage.stats()}")


def bench_publish(url: str, tmp: Path, repeat: int, batches: int, batch: int) -> dict[str, Any]:
    lake = Lake.open(str(tmp / "publish-lake"))
    df = make_frame(1_000)
    switch(None)
    lake.publish(make_frame(1_000, seed=1), UPSTREAM, UP_DATE, upstreams=[])
    lake.read(f"gros://{UPSTREAM}", partition=UP_DATE)  # the publishes below read it
    dates = (DAY0 + dt.timedelta(days=i) for i in range(1_000_000))
    on_publishes = 0

    cpu = 0.0

    def publish(on: bool) -> float:
        nonlocal on_publishes, cpu
        switch(url if on else None)
        date = next(dates).isoformat()
        gc.collect()
        cpu = time.process_time()
        start = time.perf_counter()
        ref = lake.publish(df, OUT, date)
        seconds = time.perf_counter() - start
        assert ref.rows == len(df)
        on_publishes += on
        return seconds

    def flush_time() -> float:
        start = time.perf_counter()
        flushed()
        return time.perf_counter() - start

    for i in range(6):  # untimed: lazy imports, the sender and its connection
        publish(i % 2 == 0)
        flushed()
    keys = ("off", "call", "flush", "boff", "bon", "cpu_off", "cpu_on")
    times: dict[str, list[float]] = {k: [] for k in keys}
    for i in range(repeat):
        for on in (True, False) if i % 2 == 0 else (False, True):
            seconds = publish(on)
            if on:
                times["call"].append(seconds)
                times["flush"].append(seconds + flush_time())
            else:
                times["off"].append(seconds)
            times["cpu_on" if on else "cpu_off"].append(time.process_time() - cpu)
    for i in range(batches):
        for on in (True, False) if i % 2 == 0 else (False, True):
            total = sum(publish(on) for _ in range(batch))
            if on:
                total += flush_time()
            times["bon" if on else "boff"].append(total / batch)
    switch(None)
    flushed()
    got = received(url)
    sent = openlineage.stats()
    n = on_publishes
    want = {"START": n, "COMPLETE": n, "with_input": n, "paired_runs": n, "other": 0}
    assert {k: got[k] for k in want} == want, (got, want)
    assert sent["failed"] == sent["dropped"] == 0 and sent["sent"] == 2 * n, sent
    return {"times": times, "events": got["events"], "publishes": n}


def build_lake(lake: Lake, datasets: int, dates: int, kept: int) -> int:
    """Write the versions and their records straight, OpenLineage off; the record count."""
    switch(None)
    frames = [make_frame(10, seed=s) for s in (2, 3)]
    encoded = [codec.encode(f) for f in frames]
    cols = colspec.describe(frames[0])
    names = [DatasetId("chain", f"step{k:02d}") for k in range(datasets)]
    days = [(DAY0 + dt.timedelta(days=d)).isoformat() for d in range(dates)]
    refs: dict[tuple[int, str], GrosRef] = {}

    def ups(k: int, date: str) -> list[GrosRef]:
        if k == 0:
            return []
        chosen = [refs[k - 1, date]]
        if k % 5 == 0 and k > 1:
            chosen.append(refs[0, date])
        return chosen

    for date in days:
        for k, ds in enumerate(names):
            refs[k, date] = lake.publish_encoded(
                encoded[0], ds, date, upstreams=ups(k, date), columns=cols
            )
    for i in range(kept):  # the first version of each is kept under versions/
        k, date = i % datasets, days[(i // datasets) % dates]
        lake.publish_encoded(
            encoded[1], names[k], date, upstreams=ups(k, date), columns=cols, overwrite=True
        )
    return sum(1 for _ in record_keys(lake))


@contextmanager
def s3_copy(lake_dir: Path) -> Iterator[Lake]:
    """The lake's records and `latest` pointers in moto's S3 app (own process)."""
    import boto3
    from moto_process import moto_endpoint, seed_objects, use_fake_credentials

    use_fake_credentials()
    objects: list[tuple[str, str, float | None]] = []
    for path in sorted(lake_dir.rglob("*")):
        key = path.relative_to(lake_dir).as_posix()
        if path.is_file() and (key.startswith("dependency/") or key.endswith("/metadata/latest")):
            objects.append((f"lake/{key}", path.read_text(encoding="utf-8"), None))
    with moto_endpoint() as endpoint:
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
        assert seed_objects(endpoint, BUCKET, objects) == len(objects)
        yield Lake.open(f"s3://{BUCKET}/lake", endpoint_url=endpoint)


def bench_export(lake: Lake, url: str, tmp: Path, n_records: int, repeat: int) -> dict[str, Any]:
    out = tmp / "events.jsonl"
    cases: dict[str, Callable[[], int]] = {
        "list + read records": lambda: sum(1 for _ in records(lake)),
        "export to JSON-lines file": lambda: export(lake, str(out)).events,
        "export to HTTP receiver": lambda: export(lake, url).events,
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    for i in range(repeat):
        for name in names if i % 2 == 0 else names[::-1]:
            before = received(url)["events"]
            gc.collect()
            start = time.perf_counter()
            got = cases[name]()
            times[name].append(time.perf_counter() - start)
            want = n_records if name.startswith("list") else 2 * n_records
            assert got == want, (name, got, want)
            if name.endswith("file"):
                with out.open() as f:
                    assert sum(1 for _ in f) == want
            if name.endswith("receiver"):
                assert received(url)["events"] - before == want
    return times


def versions() -> str:
    from importlib import metadata

    return (
        f"python {platform.python_version()}, pandas {pd.__version__}, "
        f"openlineage-python {metadata.version('openlineage-python')}, "
        f"requests {metadata.version('requests')}"
    )


def _row(label: str, off: float, on: float, target: float | None = None) -> tuple[str, ...]:
    """One line of the side-by-side table: both times, their ratio, and the verdict where the
    line has a target."""
    ratio = on / off
    if target is None:
        return (label, ms(off), ms(on), f"{ratio:.3f}x", "", "")
    verdict = "PASS" if ratio <= target else "FAIL"
    return (label, ms(off), ms(on), f"{ratio:.3f}x", f"<= {target}x", verdict)


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f}ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=200, help="timed publishes of each side")
    parser.add_argument("--batches", type=int, default=10, help="timed batches of each side")
    parser.add_argument("--batch", type=int, default=20, help="publishes per batch")
    parser.add_argument("--datasets", type=int, default=20)
    parser.add_argument("--dates", type=int, default=480)
    parser.add_argument("--kept", type=int, default=400, help="versions kept by overwrites")
    parser.add_argument("--export-repeat", type=int, default=1, help="timed exports of each")
    parser.add_argument("--store", choices=("local", "s3", "both"), default="both")
    parser.add_argument("--skip-publish", action="store_true")
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        serve_receiver(args.receiver)
        return 0
    for key in [k for k in os.environ if k.startswith("OPENLINEAGE")]:
        del os.environ[key]

    ok = True
    print(f"\nopenlineage_bench: {os.cpu_count()} cores; {versions()}")
    print(f"date {time.strftime('%Y-%m-%d %H:%M %Z')}; medians of interleaved runs\n")
    with tempfile.TemporaryDirectory(prefix="openlineage_bench-") as tmp_name, receiver() as url:
        tmp = Path(tmp_name)
        if not args.skip_publish:
            got = bench_publish(url, tmp, args.repeat, args.batches, args.batch)
            t = {k: statistics.median(v) for k, v in got["times"].items()}
            head = ("publish of 1,000 rows, 1 upstream", "off", "on", "ratio", "target", "result")
            ok = t["call"] / t["off"] <= TARGET
            lines = [
                _row("(a) publish call", t["off"], t["call"], TARGET),
                _row("(b) publish + flush of its 2 events", t["off"], t["flush"]),
                _row(f"(c) {args.batch} publishes + 1 flush, per publish", t["boff"], t["bon"]),
                _row("(d) process CPU of (b), sender's thread included", t["cpu_off"], t["cpu_on"]),
            ]
            print_markdown(head, lines)
            p = got["times"]
            print(
                f"\n{args.repeat} publishes each for (a) and (b), {args.batches} batches each for"
                f" (c); receiver got {got['events']} events for {got['publishes']} publishes "
                f"(START + COMPLETE with its input each)"
            )
            quart = {k: statistics.quantiles(v, n=4) for k, v in p.items() if k in ("off", "call")}
            for k, q in quart.items():
                print(f"  {k}: quartiles {' / '.join(ms(x) for x in q)}")
            print()

        stores = ("local", "s3") if args.store == "both" else (args.store,)
        lake_dir = tmp / "export-lake"
        lake = Lake.open(str(lake_dir))
        start = time.perf_counter()
        n = build_lake(lake, args.datasets, args.dates, args.kept)
        built = time.perf_counter() - start
        print(
            f"export lake: {args.datasets} datasets x {args.dates} dates + {args.kept} kept "
            f"versions = {n:,} records (built in {built:.0f} s); medians of "
            f"{args.export_repeat} interleaved runs\n"
        )
        lines = []
        for store in stores:
            if store == "local":
                results = bench_export(lake, url, tmp, n, args.export_repeat)
            else:
                with s3_copy(lake_dir) as s3_lake:
                    results = bench_export(s3_lake, url, tmp, n, args.export_repeat)
            for name, secs in results.items():
                med = statistics.median(secs)
                per = n if name.startswith("list") else 2 * n
                unit = "records/s" if name.startswith("list") else "events/s"
                lines.append((store, name, f"{med:.2f}s", f"{per:,}", f"{per / med:,.0f} {unit}"))
        print_markdown(("store", "case", "time", "count", "rate"), lines)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
