"""Benchmark: start-up time of the `lake` command against a bare `python -c pass`.

Seeds a small local lake (3 datasets of 3 days, 100 rows each) in a temporary directory, then
runs `python -c pass`, `lake --help`, `lake ls` and `lake info gros://sales` as whole processes,
round-robin so a drift of the shared machine's speed hits every command alike, and prints each
one's wall and CPU (user + sys) time, min and median, the median ratios to `python -c pass`,
and which heavy libraries the command imported (one extra run under `-X importtime`). On a
shared machine the CPU figures are the ones to compare: waiting for a core inflates the wall.

`--pythonpath DIR` runs the commands on another checkout of `lake_assets` with this venv (e.g.
a `git worktree` of an older commit), for before/after numbers.

Usage: .venv/bin/python bench/cli_startup_bench.py [--runs 21] [--pythonpath DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("pandas", "pyarrow", "numpy", "dagster", "boto3")
LAKE = Path(sys.executable).parent / "lake"


def seed(root: Path) -> str:
    """A small lake on disk; returns its URL. Imports pandas here, in the parent only."""
    import pandas as pd

    from lake_assets.lake import DatasetId, Lake

    lake = Lake.open(str(root))
    for repo in ("sales", "stock", "report"):
        for day in ("2024-01-01", "2024-01-02", "2024-01-03"):
            df = pd.DataFrame({"id": range(100), "value": [i * 0.5 for i in range(100)]})
            lake.publish(df, DatasetId(repo, "master"), day, upstreams=[])
    return str(root)


def commands(lake_url: str) -> dict[str, list[str]]:
    lake = [str(LAKE), "--lake", lake_url]
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "lake --help": [str(LAKE), "--help"],
        "lake ls": [*lake, "ls"],
        "lake info gros://sales": [*lake, "info", "gros://sales"],
    }


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one finished run (CPU from the kernel's child accounting)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.decode()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def heavy_imports(argv: list[str], env: dict[str, str]) -> list[str]:
    """The HEAVY top-level packages one run imports, from `-X importtime`'s report."""
    proc = subprocess.run(
        argv,
        env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    loaded = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    return [name for name in HEAVY if name in loaded]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="timed runs of each command")
    parser.add_argument("--pythonpath", help="a checkout whose lake_assets the commands use")
    args = parser.parse_args()

    env = {**os.environ, "COLUMNS": "120"}
    env.pop("LAKE_URL", None)
    if args.pythonpath:
        env["PYTHONPATH"] = str(Path(args.pythonpath).resolve())
    with tempfile.TemporaryDirectory() as tmp:
        cmds = commands(seed(Path(tmp) / "lake"))
        for argv in cmds.values():  # warm-up: page cache, .pyc files
            run_once(argv, env)
        walls: dict[str, list[float]] = {name: [] for name in cmds}
        cpus: dict[str, list[float]] = {name: [] for name in cmds}
        for _ in range(args.runs):
            for name, argv in cmds.items():
                wall, cpu = run_once(argv, env)
                walls[name].append(wall)
                cpus[name].append(cpu)
        heavy = {name: heavy_imports(argv, env) for name, argv in cmds.items()}

    base_wall = statistics.median(walls["python -c pass"])
    base_cpu = statistics.median(cpus["python -c pass"])
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {args.runs} runs each")
    print(f"code: {args.pythonpath or 'this checkout'}")
    print()
    print(
        "| command | wall min | wall median | CPU min | CPU median | x pass, wall | x pass, CPU "
        "| imports |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in cmds:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        print(
            f"| `{name}` | {min(walls[name]):.3f} s | {wall:.3f} s | {min(cpus[name]):.3f} s "
            f"| {cpu:.3f} s | {wall / base_wall:.1f}x | {cpu / base_cpu:.1f}x "
            f"| {', '.join(heavy[name]) or 'none of ' + '/'.join(HEAVY)} |"
        )


if __name__ == "__main__":
    main()
