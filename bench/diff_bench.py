"""diff_bench: `lake diff` of two 1M-row versions against reading both, side by side.

Publishes one date twice (the second publish keeps the first as a version, GROS_SPEC §6): the
io_bench frame (1,000,000 rows x 6 columns), then a copy with 1% of its prices changed, 0.1% of
its rows dropped and as many new ones added. Then, interleaved in one process (who goes first
alternates, after one untimed run of each), times:

- read both: `lake.read(A)` then `lake.read(B)`, the floor of any diff that reads them;
- diff --key id: `diff_uris(lake, A, B, key=["id"])`, what `lake diff A B --key id` does
  before it prints (both reads, one after the other, and the comparison);
- diff as multisets (no key), for information;
- the same pair end to end, each in a fresh process: the `lake diff A B --key id` command
  (output to a pipe) against `python -c` that opens the lake and reads both, since both pay
  the interpreter's start and the import of pandas;

and reports medians and the ratio against the target (diff with a key at most 2x reading
both). `--concurrent` also times a diff whose two reads run at once in two threads (what
`diff_uris` would gain from it: nothing on 2 cores, it was slower).

    .venv/bin/python bench/diff_bench.py [--rows N] [--repeat 5] [--store local|s3] [--concurrent]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from io_bench import make_frame, print_markdown

from lake_assets.lake import DatasetId, Lake
from lake_assets.lake.diff import FrameDiff, diff_frames, diff_uris

DS = DatasetId("bench", "diff")
DATE = "2024-01-01"
A = f"gros://{DS}:{DATE}@-2"
B = f"gros://{DS}:{DATE}"
BUCKET = "diff-bench"
PROCESS_READS = "process: python reading both"
PROCESS_DIFF = "process: lake diff --key id"
TARGET = 2.0
"""`lake diff --key` may take at most this many times the reads of both versions."""


def changed(df: pd.DataFrame, seed: int = 1) -> tuple[pd.DataFrame, dict[str, int]]:
    """`df` with 1% of its prices changed, 0.1% of its rows dropped and as many added."""
    rng = np.random.default_rng(seed)
    n = len(df)
    out = df.copy()
    touched = rng.choice(n, n // 100, replace=False)
    out.loc[touched, "price"] = out.loc[touched, "price"] + 1.0
    dropped = rng.choice(np.setdiff1d(np.arange(n), touched), n // 1000, replace=False)
    out = out.drop(index=dropped)
    new = make_frame(n // 1000, seed=seed + 1)
    new["id"] = np.arange(n, n + len(new))
    out = pd.concat([out, new], ignore_index=True)
    return out, {"changed": len(touched), "removed": len(dropped), "added": len(new)}


@contextmanager
def lake_at(store: str) -> Iterator[tuple[Lake, str, dict[str, str]]]:
    """The lake, its URL and the environment a process needs to reach it."""
    with tempfile.TemporaryDirectory(prefix="diff_bench-") as tmp:
        if store == "local":
            yield Lake.open(f"{tmp}/lake"), f"{tmp}/lake", dict(os.environ)
            return
        import boto3
        from moto_process import moto_endpoint, use_fake_credentials

        use_fake_credentials()
        with moto_endpoint() as endpoint:
            boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
            url = f"s3://{BUCKET}/lake"
            env = {**os.environ, "AWS_ENDPOINT_URL_S3": endpoint}
            yield Lake.open(url, endpoint_url=endpoint), url, env


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def concurrent_diff(lake: Lake) -> FrameDiff:
    with ThreadPoolExecutor(max_workers=2) as pool:
        a, b = pool.map(lake.read, (A, B))
    return diff_frames(a, b, ["id"])


def in_process(argv: list[str], env: dict[str, str]) -> Callable[[Lake], Any]:
    def run(_: Lake) -> None:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if proc.returncode not in (0, 1) or proc.stderr:
            raise RuntimeError(f"{argv} exited {proc.returncode}: {proc.stderr}")

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each")
    parser.add_argument("--store", choices=("local", "s3"), default="local")
    parser.add_argument("--concurrent", action="store_true", help="also time concurrent reads")
    args = parser.parse_args()

    df = make_frame(args.rows)
    df2, expected = changed(df)
    cases: dict[str, Callable[[Lake], Any]] = {
        "read both (lake.read x2)": lambda lake: (lake.read(A), lake.read(B)),
        "diff --key id": lambda lake: diff_uris(lake, A, B, key=["id"])[0],
        "diff, no key (multisets)": lambda lake: diff_uris(lake, A, B)[0],
    }
    if args.concurrent:
        cases["diff --key id, both reads at once"] = concurrent_diff
    with lake_at(args.store) as (lake, url, env):
        reader = f"from lake_assets.lake import Lake; l = Lake.open({url!r}); l.read({A!r}); "
        reader += f"l.read({B!r})"
        cases[PROCESS_READS] = in_process([sys.executable, "-c", reader], env)
        command = [str(Path(sys.executable).parent / "lake"), "--lake", url, "diff", A, B]
        cases[PROCESS_DIFF] = in_process([*command, "--key", "id"], env)
        times: dict[str, list[float]] = {name: [] for name in cases}
        lake.publish(df, DS, DATE, upstreams=[])
        lake.publish(df2, DS, DATE, upstreams=[], overwrite=True)
        del df, df2
        names = list(cases)
        for name in names:  # one untimed run each: thread pools, lazy imports
            result = cases[name](lake)
        found = diff_uris(lake, A, B, key=["id"])[0]
        got = {"changed": found.rows_changed, "removed": found.rows_removed}
        got["added"] = found.rows_added
        assert got == expected, (got, expected)
        assert found.changed_cells == {"price": expected["changed"]}, found.changed_cells
        plain = diff_uris(lake, A, B)[0]
        changed_rows = expected["changed"]
        assert plain.rows_added == expected["added"] + changed_rows, plain
        assert plain.rows_removed == expected["removed"] + changed_rows, plain
        del result, found, plain
        for i in range(args.repeat):
            for name in names if i % 2 == 0 else names[::-1]:
                seconds, result = timed(lambda name=name: cases[name](lake))
                times[name].append(seconds)
                del result

    med = {name: statistics.median(t) for name, t in times.items()}
    floor = med["read both (lake.read x2)"]
    floors = {name: med[PROCESS_READS] if name.startswith("process") else floor for name in med}
    print(
        f"\ndiff_bench: {args.rows:,} rows x 6 columns, store {args.store}; {os.cpu_count()} "
        f"cores; python {platform.python_version()}, pandas {pd.__version__}"
    )
    print(
        f"B against A: {expected['changed']:,} prices changed, {expected['removed']:,} rows "
        f"removed, {expected['added']:,} added; medians of {args.repeat} interleaved runs\n"
    )
    head = ("case", "median", "runs", "/ reading both")
    lines = [
        (
            name,
            f"{med[name]:.3f}s",
            " ".join(f"{t:.2f}" for t in times[name]),
            f"{med[name] / floors[name]:.2f}x",
        )
        for name in names
    ]
    print_markdown(head, lines)
    print()
    ok = True
    for name in ("diff --key id", PROCESS_DIFF):
        ratio = med[name] / floors[name]
        ok = ok and ratio <= TARGET
        verdict = "PASS" if ratio <= TARGET else "FAIL"
        print(f"{name} / reading both: {ratio:.2f}x (target <= {TARGET}x): {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
