"""io_bench: the lake's gzip-CSV write and read against naive pandas, side by side.

Writes and reads one partition through the path the Dagster IO manager takes
(`Lake.publish`, `Lake.read(uri, partition=...)`) and through plain
`df.to_csv(..., compression="gzip")` / `pd.read_csv(...)` on the same store, then prints the
ratios against the targets of issue 2. Peak read memory is measured in a fresh child process
per measurement (the RSS high-water mark, reset just before the read, over the RSS then),
since pyarrow's allocations are invisible to tracemalloc.

    .venv/bin/python bench/io_bench.py [--rows N] [--store local|s3|both]
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from lake_assets.lake import DatasetId, Lake

BIG = DatasetId("bench", "io")
SMALL = DatasetId("bench", "small")
DATE = "2024-01-01"
BUCKET = "io-bench"

WRITE_SPEEDUP = 5.0
READ_SPEEDUP = 2.5
SIZE_RATIO = 1.15
MEMORY_RATIO = 3.0
GROS_OVERHEAD = 1.3
RTT_MS = 10.0
"""Round trip added in front of moto for the second gros:// line: a small GET from S3 in the
same region waits about this long for its first byte."""

T = TypeVar("T")


def make_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    """Six columns of the kinds datasets hold: ints, floats, strings and dates."""
    rng = np.random.default_rng(seed)
    words = np.array(["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"])
    names = np.char.add(
        words[rng.integers(0, len(words), rows)], rng.integers(0, 10_000, rows).astype(str)
    )
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype="int64"),
            "quantity": rng.integers(-1_000, 100_000, rows),
            "price": rng.normal(100, 30, rows).round(2),
            "score": rng.random(rows),
            "name": pd.array(names, dtype="str"),
            "day": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 3650, rows), "D"),
        }
    )


@dataclass
class Site:
    """One store, reached both through the lake and the naive way."""

    name: str
    lake_url: str
    options: dict[str, Any]
    naive_write: Callable[[pd.DataFrame], int]
    naive_read: Callable[[], pd.DataFrame]
    read_key: Callable[[str], pd.DataFrame]
    lake: Lake = field(init=False)
    distant: Site | None = None
    """The same store reached over a link with network latency (S3 only)."""

    def __post_init__(self) -> None:
        self.lake = Lake.open(self.lake_url, **self.options)


@contextmanager
def local_site(root: Path) -> Iterator[Site]:
    naive = root / "naive" / "part.csv.gz"
    naive.parent.mkdir(parents=True)
    lake_dir = root / "lake"

    def write(df: pd.DataFrame) -> int:
        df.to_csv(naive, index=False, compression="gzip")
        return naive.stat().st_size

    yield Site(
        "local",
        str(lake_dir),
        {},
        write,
        lambda: pd.read_csv(naive),
        lambda key: pd.read_csv(lake_dir / key),
    )


@contextmanager
def s3_site(rtt_ms: float) -> Iterator[Site]:
    import boto3
    from latency_proxy import latency_endpoint
    from moto_process import moto_endpoint, use_fake_credentials

    use_fake_credentials()
    with moto_endpoint() as endpoint, latency_endpoint(endpoint, rtt_ms) as distant:
        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket=BUCKET)
        yield _s3(endpoint, client, _s3(distant, boto3.client("s3", endpoint_url=distant)))


def _s3(endpoint: str, client: Any, distant: Site | None = None) -> Site:
    def write(df: pd.DataFrame) -> int:
        buf = io.BytesIO()
        df.to_csv(buf, index=False, compression="gzip")
        client.put_object(Bucket=BUCKET, Key="naive/part.csv.gz", Body=buf.getvalue())
        return buf.tell()

    def get(key: str) -> pd.DataFrame:
        body = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        return pd.read_csv(io.BytesIO(body), compression="gzip")

    return Site(
        "s3",
        f"s3://{BUCKET}/lake",
        {"endpoint_url": endpoint},
        write,
        lambda: get("naive/part.csv.gz"),
        lambda key: get(f"lake/{key}"),
        distant=distant,
    )


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    gc.collect()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


@dataclass
class Row:
    """One line of the table: a target is a floor, or a ceiling when given negative."""

    check: str
    naive: str
    lake: str
    value: float
    target: str
    ok: bool

    @classmethod
    def of(
        cls, check: str, naive: float, lake: float, unit: str, value: float, target: float
    ) -> Row:
        ok = value >= target if target > 0 else value <= -target
        bound = f">= {target}x" if target > 0 else f"<= {-target}x"
        return cls(check, f"{naive:.3f}{unit}", f"{lake:.3f}{unit}", value, bound, ok)


def bench_site(
    site: Site, df: pd.DataFrame, repeat: int, read_repeat: int, small_repeat: int
) -> list[Row]:
    lake = site.lake
    lake.publish(make_frame(1_000, seed=1), SMALL, DATE, upstreams=[])
    uri = f"gros://{BIG}"
    times: dict[str, list[float]] = {k: [] for k in ("nw", "lw", "nr", "lr")}
    naive_bytes = lake_bytes = 0
    for i in range(repeat):
        # Alternate who goes first, so neither side always meets a warm (or cold) cache.
        for side in ("n", "l") if i % 2 == 0 else ("l", "n"):
            if side == "n":
                seconds, naive_bytes = timed(lambda: site.naive_write(df))
                times["nw"].append(seconds)
            else:
                seconds, ref = timed(
                    lambda: lake.publish(df, BIG, DATE, upstreams=[], overwrite=True)
                )
                times["lw"].append(seconds)
                lake_bytes = ref.bytes or 0
    # One untimed read each: a process's first read pays one-off costs (thread pools, lazy
    # imports, allocator growth) that steady reads do not.
    site.naive_read()
    lake.read(uri, partition=DATE)
    for i in range(read_repeat):
        for side in ("n", "l") if i % 2 == 0 else ("l", "n"):
            if side == "n":
                times["nr"].append(timed(site.naive_read)[0])
            else:
                times["lr"].append(timed(lambda: lake.read(uri, partition=DATE))[0])
    med = {k: statistics.median(v) for k, v in times.items()}
    check_roundtrip(lake.read(uri, partition=DATE), df)

    mem = child_peak(site, "lake")
    naive_mem = child_peak(site, "naive")
    gros, direct = gros_overhead(site, small_repeat)
    far = gros_overhead(site.distant, small_repeat) if site.distant else None

    mib = 1 << 20
    size = lake_bytes / naive_bytes
    return [
        Row.of("write speedup", med["nw"], med["lw"], "s", med["nw"] / med["lw"], WRITE_SPEEDUP),
        Row.of("read speedup", med["nr"], med["lr"], "s", med["nr"] / med["lr"], READ_SPEEDUP),
        Row.of("file size", naive_bytes / mib, lake_bytes / mib, "MiB", size, -SIZE_RATIO),
        Row.of(
            f"read peak / frame ({mem['df_bytes'] / mib:.0f}MiB)",
            naive_mem["peak"] / mib,
            mem["peak"] / mib,
            "MiB",
            mem["peak"] / mem["df_bytes"],
            -MEMORY_RATIO,
        ),
        Row.of(
            "gros:// / direct key", direct * 1e3, gros * 1e3, "ms", gros / direct, -GROS_OVERHEAD
        ),
        *(
            [
                Row.of(
                    f"gros:// / direct key, {RTT_MS:g} ms RTT",
                    far[1] * 1e3,
                    far[0] * 1e3,
                    "ms",
                    far[0] / far[1],
                    -GROS_OVERHEAD,
                )
            ]
            if far
            else []
        ),
    ]


def check_roundtrip(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """A fast codec that loses data is no win: the benchmark frame must come back exactly."""
    pd.testing.assert_frame_equal(got, want)


def gros_overhead(site: Site, repeat: int) -> tuple[float, float]:
    """Median seconds of `pd.read_csv("gros://...")` and of reading its resolved key directly."""
    lake = site.lake
    uri = f"gros://{SMALL}"
    key = SMALL.data_key(lake.resolve(uri).date)
    options = {"lake_url": site.lake_url, **site.options}
    assert pd.read_csv(uri, storage_options=options).equals(site.read_key(key))
    via_gros: list[float] = []
    direct: list[float] = []
    for i in range(repeat):
        pair = [
            (via_gros, lambda: pd.read_csv(uri, storage_options=options)),
            (direct, lambda: site.read_key(key)),
        ]
        for times, fn in pair if i % 2 == 0 else reversed(pair):
            times.append(timed(fn)[0])
    return statistics.median(via_gros), statistics.median(direct)


def child_peak(site: Site, how: str) -> dict[str, int]:
    """Peak memory of one read of the big partition, in a fresh interpreter."""
    spec = {"how": how, "lake_url": site.lake_url, "options": site.options, "site": site.name}
    out = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True
    )
    if out.returncode:
        raise RuntimeError(f"the {how} memory probe on {site.name} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def status_bytes(field: str) -> int:
    """A size from /proc/self/status: VmRSS now, VmHWM the peak since the last reset."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def reset_peak() -> None:
    """Start VmHWM afresh at the current RSS (ru_maxrss cannot: it survives exec, so a child
    would report its parent's peak)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def child(spec: dict[str, Any]) -> None:
    """Warm up on the small dataset (thread pools, lazy imports), then read the big one once."""
    lake = Lake.open(spec["lake_url"], **spec["options"])
    lake.read(f"gros://{SMALL}", partition=DATE)
    if spec["site"] == "s3":
        import boto3

        client = boto3.client("s3", endpoint_url=spec["options"]["endpoint_url"])

        def naive() -> pd.DataFrame:
            body = client.get_object(Bucket=BUCKET, Key="naive/part.csv.gz")["Body"].read()
            return pd.read_csv(io.BytesIO(body), compression="gzip")
    else:
        path = Path(spec["lake_url"]).parent / "naive" / "part.csv.gz"

        def naive() -> pd.DataFrame:
            return pd.read_csv(path)

    read = naive if spec["how"] == "naive" else lambda: lake.read(f"gros://{BIG}", partition=DATE)
    gc.collect()
    reset_peak()
    before = status_bytes("VmRSS")
    df = read()
    peak = status_bytes("VmHWM") - before
    size = int(df.memory_usage(deep=True).sum())
    print(json.dumps({"peak": peak, "df_bytes": size}))


def versions() -> str:
    import isal
    import pyarrow

    return (
        f"python {platform.python_version()}, pandas {pd.__version__}, "
        f"pyarrow {pyarrow.__version__}, isal {isal.__version__}, numpy {np.__version__}"
    )


def print_table(rows: int, results: dict[str, list[Row]]) -> bool:
    print(f"\nio_bench: {rows:,} rows x 6 columns; {os.cpu_count()} cores; {versions()}")
    print(f"date {time.strftime('%Y-%m-%d %H:%M %Z')}; medians of repeated, interleaved runs\n")
    head = ("store", "check", "naive", "lake", "ratio", "target", "result")
    lines = [
        (site, r.check, r.naive, r.lake, f"{r.value:.2f}x", r.target, "PASS" if r.ok else "FAIL")
        for site, rs in results.items()
        for r in rs
    ]
    print_markdown(head, lines)
    return all(r.ok for rs in results.values() for r in rs)


def print_markdown(head: tuple[str, ...], lines: list[tuple[str, ...]]) -> None:
    """A table as bench/README.md holds them, columns padded to their widest cell."""
    widths = [max(len(x[i]) for x in [head, *lines]) for i in range(len(head))]
    fmt = "| " + " | ".join(f"{{:{w}}}" for w in widths) + " |"
    print(fmt.format(*head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for line in lines:
        print(fmt.format(*line))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--store", choices=("local", "s3", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=5, help="timed writes of the big frame")
    parser.add_argument("--read-repeat", type=int, default=11, help="timed reads of it")
    parser.add_argument("--small-repeat", type=int, default=60, help="timed gros:// reads")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return 0
    df = make_frame(args.rows)
    results: dict[str, list[Row]] = {}
    with tempfile.TemporaryDirectory(prefix="io_bench-") as tmp:
        if args.store in ("local", "both"):
            with local_site(Path(tmp)) as site:
                results["local"] = bench_site(
                    site, df, args.repeat, args.read_repeat, args.small_repeat
                )
        if args.store in ("s3", "both"):
            with s3_site(RTT_MS) as site:
                results["s3"] = bench_site(
                    site, df, args.repeat, args.read_repeat, args.small_repeat
                )
    return 0 if print_table(args.rows, results) else 1


if __name__ == "__main__":
    sys.exit(main())
