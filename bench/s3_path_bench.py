"""s3_path_bench: the S3 read path's mechanisms over a realistic link, side by side.

Everything goes through `bench/latency_proxy.py` in front of moto's S3 app (its own
process, `bench/moto_process.py`): a 10 ms round trip and each direction of each connection
capped at 100 MB/s, about what one connection to S3 in the same region gives. Each section
runs its operations interleaved (the order rotates every round, so none always goes first)
and reports medians of wall time and of process CPU time (`time.process_time`: every
thread of this process, obstore's runtime and the lake's background threads included).

1. Small GETs: a 1 KB object, the 26 KB data object of a 1,000-row dataset, and a
   conditional GET answered 304, by botocore's `get_object` with the project's client (the
   S3 store's `CONFIG`), by the project's presigned GETs (`PresignedGets`, sent through
   botocore's http session) and by obstore (Rust object_store).
2. The `gros://` line of io_bench: `pd.read_csv("gros://bench/small")` against
   `pd.read_csv` of its resolved data object fetched directly (target <= 1.3x), with the
   presigned GETs on and off (off: the store's presigned `get` answers None, so botocore
   sends every request) and with the overlapped `latest` check on and off (off: the store
   says it is not remote, so the lake checks the pointer in the caller's thread, then GETs
   the data: one round trip after the other).
3. A 1M-row (~25 MB) data object read by `Lake.read(uri, partition=DATE)` with the
   `Arriving` stream on and off (off: the lake's `STREAM_FROM` raised past the object's size,
   so it is read whole before decoding starts), with and without presigned GETs; and the
   raw GET of the same object by botocore, presigned and obstore.

    .venv/bin/python bench/s3_path_bench.py [--rtt 10] [--mbps 100] [--rows 1000000]
        [--small-repeat 150] [--gros-repeat 80] [--big-repeat 9]

obstore is measured, not used by the project: install it into the venv for this benchmark
only (`.venv/bin/uv pip install --python .venv/bin/python obstore`).
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

BUCKET = "s3-path-bench"
PREFIX = "lake"
ONE_KB = "bench/one-kb"


@dataclass
class Samples:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def w(self) -> float:
        return statistics.median(self.wall)

    @property
    def c(self) -> float:
        return statistics.median(self.cpu)

    def spread(self) -> str:
        q = statistics.quantiles(self.wall, n=4) if len(self.wall) > 1 else [self.w] * 3
        return f"{q[0] * 1e3:.1f}-{q[2] * 1e3:.1f}"


def interleaved(
    ops: dict[str, Callable[[], Any]], repeat: int, warm: int = 2, collect: bool = False
) -> dict[str, Samples]:
    """Medians-to-be of each op, run round-robin with the order rotated every round."""
    names = list(ops)
    for _ in range(warm):
        for name in names:
            ops[name]()
    got = {name: Samples() for name in names}
    for i in range(repeat):
        k = i % len(names)
        order = names[k:] + names[:k]
        if i % 2:
            order.reverse()
        if not collect:
            gc.collect()
        for name in order:
            if collect:
                gc.collect()
            c0, t0 = time.process_time(), time.perf_counter()
            ops[name]()
            t1, c1 = time.perf_counter(), time.process_time()
            got[name].wall.append(t1 - t0)
            got[name].cpu.append(c1 - c0)
    return got


class NoPresigned:
    """The store's presigned GETs turned off: every request goes through botocore."""

    def get(self, *args: Any, **kwargs: Any) -> None:
        return None


def setup_data(endpoint: str, rows: int) -> None:
    """Bucket, the small and big datasets (published through the lake) and a 1 KB object,
    written on moto directly (no proxy)."""
    import boto3
    from io_bench import BIG, DATE, SMALL, make_frame

    from lake_assets.lake import Lake

    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
    lake = Lake.open(f"s3://{BUCKET}/{PREFIX}", endpoint_url=endpoint)
    lake.publish(make_frame(1_000, seed=1), SMALL, DATE, upstreams=[])
    lake.publish(make_frame(rows), BIG, DATE, upstreams=[])
    lake.store.put(ONE_KB, b"x" * 1024)


def obstore_for(endpoint: str) -> Any:
    from obstore.store import S3Store as ObStore

    return ObStore(
        BUCKET,
        endpoint=endpoint,
        access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        region="us-east-1",
        virtual_hosted_style_request=False,
        client_options={"allow_http": True},
    )


def small_gets(far: str, repeat: int) -> dict[str, Samples]:
    import botocore.exceptions
    import obstore
    from io_bench import DATE, SMALL
    from obstore.exceptions import NotModifiedError

    from lake_assets.lake.storage.presigned_gets import PresignedGets
    from lake_assets.lake.storage.s3 import S3Store

    store = S3Store(BUCKET, PREFIX, endpoint_url=far)  # the project's client and _CONFIG
    client = store.client
    gets = PresignedGets(client, BUCKET)
    ob = obstore_for(far)
    one_kb = f"{PREFIX}/{ONE_KB}"
    data = f"{PREFIX}/{SMALL.data_key(DATE)}"
    etag = client.head_object(Bucket=BUCKET, Key=data)["ETag"]

    def boto_get(key: str) -> bytes:
        return client.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def boto_304() -> None:
        try:
            client.get_object(Bucket=BUCKET, Key=data, IfNoneMatch=etag)
        except botocore.exceptions.ClientError as e:
            assert e.response["Error"]["Code"] in ("304", "NotModified"), e
            return
        raise AssertionError("botocore: expected 304")

    def presigned_get(key: str) -> bytes:
        got = gets.get(key)
        assert got is not None and got.status_code == 200
        return got.content

    def presigned_304() -> None:
        got = gets.get(data, if_none_match=etag)
        assert got is not None and got.status_code == 304

    def ob_get(key: str) -> bytes:
        return obstore.get(ob, key).bytes()

    def ob_304() -> None:
        try:
            obstore.get(ob, data, options={"if_none_match": etag})
        except NotModifiedError:
            return
        raise AssertionError("obstore: expected 304")

    size = len(boto_get(data))
    assert bytes(ob_get(data)) == presigned_get(data) == boto_get(data)
    assert len(ob_get(one_kb)) == 1024
    print(f"  small data object: {size / 1024:.1f} KiB", flush=True)
    return interleaved(
        {
            "1 KB GET, botocore": lambda: boto_get(one_kb),
            "1 KB GET, presigned": lambda: presigned_get(one_kb),
            "1 KB GET, obstore": lambda: ob_get(one_kb),
            f"{size // 1024} KB GET, botocore": lambda: boto_get(data),
            f"{size // 1024} KB GET, presigned": lambda: presigned_get(data),
            f"{size // 1024} KB GET, obstore": lambda: ob_get(data),
            "304 GET, botocore": boto_304,
            "304 GET, presigned": presigned_304,
            "304 GET, obstore": ob_304,
        },
        repeat,
    )


def gros_line(far: str, repeat: int) -> dict[str, Samples]:
    from concurrent.futures import ThreadPoolExecutor

    import boto3
    import obstore
    from io_bench import SMALL
    from obstore.exceptions import NotModifiedError

    from lake_assets.lake import Lake
    from lake_assets.lake.gros_fs import GrosFileSystem

    lake_url = f"s3://{BUCKET}/{PREFIX}"
    options = {"lake_url": lake_url, "endpoint_url": far}
    uri = f"gros://{SMALL}"
    lake = Lake.open(lake_url, endpoint_url=far)  # one per process and options, as gros:// opens it
    assert GrosFileSystem(**options).lake is lake, "gros:// reads would not use this lake"
    store = lake.store
    assert hasattr(store, "_gets") and store.remote, "the S3 store changed: update the bench"
    presigned = store._gets
    key = f"{PREFIX}/{SMALL.data_key(lake.resolve(uri).date)}"
    direct_client = boto3.client("s3", endpoint_url=far)  # as io_bench's direct read
    ob = obstore_for(far)

    def direct() -> pd.DataFrame:
        body = direct_client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        return pd.read_csv(io.BytesIO(body), compression="gzip")

    def direct_obstore() -> pd.DataFrame:
        body = obstore.get(ob, key).bytes()
        return pd.read_csv(io.BytesIO(body), compression="gzip")

    pointer = f"{PREFIX}/{SMALL.latest_key}"
    pointer_etag = direct_client.head_object(Bucket=BUCKET, Key=pointer)["ETag"]
    pool = ThreadPoolExecutor(1)

    def pointer_unmoved() -> bool:
        try:
            obstore.get(ob, pointer, options={"if_none_match": pointer_etag})
        except NotModifiedError:
            return True
        return False

    def gros_like_obstore() -> pd.DataFrame:
        """What the lake's repeated `latest` read would cost on an obstore store: the
        pointer's conditional GET from another thread while the caller GETs the data."""
        asked = pool.submit(pointer_unmoved)
        body = obstore.get(ob, key).bytes()
        assert asked.result()
        return pd.read_csv(io.BytesIO(body), compression="gzip")

    def gros(fast_gets: bool, overlapped: bool) -> Callable[[], pd.DataFrame]:
        def read() -> pd.DataFrame:
            store._gets = presigned if fast_gets else NoPresigned()
            store.remote = overlapped
            try:
                return pd.read_csv(uri, storage_options=options)
            finally:
                store._gets = presigned
                store.remote = True

        return read

    want = direct()
    assert gros(True, True)().equals(want) and direct_obstore().equals(want)
    assert gros_like_obstore().equals(want)
    return interleaved(
        {
            "direct, boto3 get_object": direct,
            "direct, obstore": direct_obstore,
            "gros://, overlapped + presigned (now)": gros(True, True),
            "gros://, overlapped, botocore": gros(False, True),
            "gros://, sequential + presigned": gros(True, False),
            "gros://, sequential, botocore": gros(False, False),
            "gros-like, obstore overlapped (emulated)": gros_like_obstore,
        },
        repeat,
    )


def big_read(far: str, repeat: int) -> tuple[dict[str, Samples], int]:
    import obstore
    from io_bench import BIG, DATE

    from lake_assets.lake import Lake

    # the module of the lake's reading layer, wherever it lives now: the one whose
    # STREAM_FROM the data fetch reads
    lake_module = next(
        m for m in (sys.modules[c.__module__] for c in Lake.__mro__) if hasattr(m, "STREAM_FROM")
    )

    lake = Lake.open(f"s3://{BUCKET}/{PREFIX}", endpoint_url=far)
    store = lake.store
    presigned = store._gets
    uri = f"gros://{BIG}"
    key = f"{PREFIX}/{BIG.data_key(DATE)}"
    client = store.client  # the project's _CONFIG
    ob = obstore_for(far)
    stream_from = lake_module.STREAM_FROM
    size = client.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
    assert size >= stream_from, "the big object is too small to stream: raise --rows"

    def read(streaming: bool, fast_gets: bool) -> Callable[[], pd.DataFrame]:
        def run() -> pd.DataFrame:
            lake_module.STREAM_FROM = stream_from if streaming else 1 << 62
            store._gets = presigned if fast_gets else NoPresigned()
            try:
                return lake.read(uri, partition=DATE)
            finally:
                lake_module.STREAM_FROM = stream_from
                store._gets = presigned

        return run

    def boto_get() -> bytes:
        return client.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def presigned_get() -> bytes:
        # streamed and read in one call, as the store hands it to the lake (`.content`
        # would join 64 KiB pieces: more CPU than the store ever spends)
        got = presigned.get(key, stream=True)
        assert got is not None and got.status_code == 200
        with got.raw as raw:
            return raw.read()

    def ob_get() -> Any:
        return obstore.get(ob, key).bytes()

    first = read(True, True)()
    pd.testing.assert_frame_equal(read(False, False)(), first)
    del first
    return (
        interleaved(
            {
                "Lake.read, streaming + presigned (now)": read(True, True),
                "Lake.read, read whole first, presigned": read(False, True),
                "Lake.read, streaming, botocore": read(True, False),
                "Lake.read, read whole first, botocore": read(False, False),
                "raw GET, botocore get_object": boto_get,
                "raw GET, presigned": presigned_get,
                "raw GET, obstore": ob_get,
            },
            repeat,
            warm=1,
            collect=True,
        ),
        size,
    )


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f}"


def print_ops(title: str, got: dict[str, Samples]) -> None:
    print(f"\n{title}\n")
    rows = [(name, ms(s.w), s.spread(), ms(s.c)) for name, s in got.items()]
    head = ("operation", "wall ms", "wall p25-p75", "CPU ms")
    table([head, *rows])


def table(lines: list[tuple[str, ...]]) -> None:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    fmt = "| " + " | ".join(f"{{:{w}}}" for w in widths) + " |"
    print(fmt.format(*lines[0]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for line in lines[1:]:
        print(fmt.format(*line))


def ratio(got: dict[str, Samples], a: str, b: str, what: str, target: float | None = None) -> tuple:
    """Ratio of medians, and the median of the rounds' own ratios: the two ran next to each
    other in each round, so a load that comes and goes between rounds cancels out."""
    x, y = got[a], got[b]
    r = x.w / y.w
    paired = statistics.median(p / q for p, q in zip(x.wall, y.wall, strict=True))
    verdict = "" if target is None else ("PASS" if r <= target else "FAIL")
    return (
        what,
        f"{r:.2f}x",
        f"{paired:.2f}x",
        f"{(x.w - y.w) * 1e3:+.2f}",
        f"{x.c / y.c:.2f}x",
        f"{(x.c - y.c) * 1e3:+.2f}",
        f"<= {target}x {verdict}" if target else "",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rtt", type=float, default=10.0, help="round trip, ms")
    parser.add_argument("--mbps", type=float, default=100.0, help="MB/s per connection")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small-repeat", type=int, default=150)
    parser.add_argument("--gros-repeat", type=int, default=80)
    parser.add_argument("--big-repeat", type=int, default=9)
    args = parser.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        os.environ.pop(var, None)
    import boto3
    import obstore
    import pyarrow
    from latency_proxy import latency_endpoint
    from moto_process import moto_endpoint, use_fake_credentials

    use_fake_credentials()

    start = time.perf_counter()
    print(
        f"s3_path_bench: {args.rtt:g} ms RTT, {args.mbps:g} MB/s per connection; "
        f"{os.cpu_count()} cores; python {platform.python_version()}, boto3 {boto3.__version__}, "
        f"obstore {obstore.__version__}, pandas {pd.__version__}, pyarrow {pyarrow.__version__}; "
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}, load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    with moto_endpoint() as endpoint, latency_endpoint(endpoint, args.rtt, args.mbps) as far:
        setup_data(endpoint, args.rows)
        print(f"  data written ({time.perf_counter() - start:.0f} s)", flush=True)
        small = small_gets(far, args.small_repeat)
        print(f"  small GETs done ({time.perf_counter() - start:.0f} s)", flush=True)
        gros = gros_line(far, args.gros_repeat)
        print(f"  gros:// line done ({time.perf_counter() - start:.0f} s)", flush=True)
        big, size = big_read(far, args.big_repeat)
        print(f"  big reads done ({time.perf_counter() - start:.0f} s)", flush=True)

    mb = f"{size / 1e6:.0f} MB"
    floor = args.rtt / 1e3 + size / (args.mbps * 1e6)
    print_ops(f"Small GETs ({args.small_repeat} interleaved rounds)", small)
    print_ops(f"gros:// line ({args.gros_repeat} interleaved rounds)", gros)
    print_ops(
        f"{size / 1e6:.1f} MB data object, {args.rows:,} rows ({args.big_repeat} interleaved "
        f"rounds; link floor RTT + size/cap = {floor * 1e3:.0f} ms)",
        big,
    )

    kb = next(n for n in small if n.endswith("KB GET, botocore") and not n.startswith("1 "))
    kb = kb.split()[0]
    lines = [("comparison", "wall", "paired", "wall ms", "CPU", "CPU ms", "target")]
    for what in ("1 KB GET", f"{kb} KB GET", "304 GET"):
        lines.append(
            ratio(small, f"{what}, presigned", f"{what}, botocore", f"{what}: presigned / botocore")
        )
        lines.append(
            ratio(small, f"{what}, obstore", f"{what}, botocore", f"{what}: obstore / botocore")
        )
    d = "direct, boto3 get_object"
    for name in gros:
        if name.startswith("gros"):
            lines.append(ratio(gros, name, d, f"{name} / direct", 1.3))
    lines += [
        ratio(gros, "direct, obstore", d, "direct: obstore / boto3"),
        ratio(
            gros,
            "gros://, overlapped + presigned (now)",
            "gros://, overlapped, botocore",
            "gros://: presigned on / off (overlapped)",
        ),
        ratio(
            gros,
            "gros://, sequential + presigned",
            "gros://, sequential, botocore",
            "gros://: presigned on / off (sequential)",
        ),
        ratio(
            gros,
            "gros://, overlapped + presigned (now)",
            "gros://, sequential + presigned",
            "gros://: overlapped / sequential (presigned)",
        ),
        ratio(
            gros,
            "gros://, overlapped, botocore",
            "gros://, sequential, botocore",
            "gros://: overlapped / sequential (botocore)",
        ),
        ratio(
            big,
            "Lake.read, streaming + presigned (now)",
            "Lake.read, read whole first, presigned",
            f"{mb} read: streaming / whole first (presigned)",
        ),
        ratio(
            big,
            "Lake.read, streaming, botocore",
            "Lake.read, read whole first, botocore",
            f"{mb} read: streaming / whole first (botocore)",
        ),
        ratio(
            big,
            "Lake.read, streaming + presigned (now)",
            "Lake.read, streaming, botocore",
            f"{mb} read: presigned / botocore (streaming)",
        ),
        ratio(
            big,
            "raw GET, presigned",
            "raw GET, botocore get_object",
            f"{mb} GET: presigned / botocore",
        ),
        ratio(
            big, "raw GET, obstore", "raw GET, botocore get_object", f"{mb} GET: obstore / botocore"
        ),
    ]
    print(
        "\nRatios: of medians, and (paired) the median of each round's own ratio; the ms "
        "columns are the difference of medians, first minus second\n"
    )
    table(lines)
    rates = ", ".join(
        f"{name.split(', ')[1]} {size / big[name].w / 1e6:.0f} MB/s"
        for name in big
        if name.startswith("raw GET")
    )
    print(f"\n{mb} GET throughput: {rates} (cap {args.mbps:g} MB/s)")
    print(f"total {time.perf_counter() - start:.0f} s; load {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
