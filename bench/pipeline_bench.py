"""Full-year backfill of the example pipeline, in-process, against a plain pandas script.

    .venv/bin/python bench/pipeline_bench.py [--days 365] [--batch 31]

Both sides start from the same published sources (seeded first, not timed) and build the
same seven datasets for every day with the same functions. The lake side is Dagster:
`materialize()` over partition ranges of `--batch` days, as `BackfillPolicy.multi_run` splits
a backfill, each run publishing through the IO manager (data object, production record, audit
objects, `latest`) after the blocking checks. The plain side reads the source objects with
`pandas.read_csv`, calls the dataset functions and writes each result with
`to_csv(..., compression="gzip")`: no checks, no lineage, no Dagster. Target: lake <= 2x plain.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def days(n: int) -> list[str]:
    return [d.date().isoformat() for d in pd.date_range("2013-01-01", periods=n, freq="D")]


def run_lake(all_days: list[str], batch: int) -> tuple[float, int]:
    from dagster import DagsterInstance, materialize
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    from lake_assets.dagster_layer.build import build_assets, resolve
    from lake_assets.dagster_layer.io_manager import LakeIOManager
    from lake_assets.dagster_layer.resources import LakeResource
    from lake_assets.pipeline.datasets import DATASETS, EXTERNAL

    assets = build_assets(resolve(DATASETS, "master", EXTERNAL), batch=batch)
    lake = LakeResource()
    resources = {"io_manager": LakeIOManager(lake=lake), "lake": lake}
    runs = 0
    start = time.perf_counter()
    with DagsterInstance.ephemeral() as instance:
        for i in range(0, len(all_days), batch):
            chunk = all_days[i : i + batch]
            tags = {
                ASSET_PARTITION_RANGE_START_TAG: chunk[0],
                ASSET_PARTITION_RANGE_END_TAG: chunk[-1],
            }
            result = materialize(
                assets, resources=resources, tags=tags, instance=instance, run_config=QUIET
            )
            assert result.success
            runs += 1
    return time.perf_counter() - start, runs


def run_plain(all_days: list[str], lake_dir: Path, out_dir: Path) -> float:
    from lake_assets.dagster_layer.context import DatasetContext
    from lake_assets.lake import DatasetId, GrosRef
    from lake_assets.pipeline import bronze, gold, silver

    log = logging.getLogger("plain")
    start = time.perf_counter()

    def source(repo: str, date: str) -> tuple[pd.DataFrame, GrosRef]:
        path = lake_dir / "asset" / repo / "master" / "data" / f"{date}.csv.gz"
        ref = GrosRef(repo=repo, branch="master", date=date, sha256="0" * 64)
        return pd.read_csv(path, compression="gzip"), ref

    def write(frame: pd.DataFrame, name: str, date: str) -> None:
        folder = out_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        frame.to_csv(folder / f"{date}.csv.gz", index=False, compression="gzip")

    airlines, _ = source("airlines", all_days[0])
    airports, _ = source("airports", all_days[0])
    for date in all_days:

        def ctx(name: str, date: str = date, **refs: GrosRef) -> DatasetContext:
            return DatasetContext(DatasetId(name, "master"), date, dict(refs), log)

        flights, fref = source("nyc_flights", date)
        weather, wref = source("nyc_weather", date)
        fb = bronze.flights_bronze(flights, ctx("flights_bronze", flights=fref))
        wb = bronze.weather_bronze(weather, ctx("weather_bronze", weather=wref))
        fs = silver.flights_silver(fb, airlines, airports, ctx("flights_silver"))
        ws = silver.weather_silver(wb, airports, ctx("weather_silver"))
        q = silver.silver_quarantine(fb, wb, airlines, airports, ctx("silver_quarantine"))
        co = gold.carrier_ontime_daily(fs, airlines, ctx("carrier_ontime_daily"))
        ow = gold.origin_weather_delay_daily(fs, ws, ctx("origin_weather_delay_daily"))
        for name, frame in [
            ("flights_bronze", fb),
            ("weather_bronze", wb),
            ("flights_silver", fs),
            ("weather_silver", ws),
            ("silver_quarantine", q),
            ("carrier_ontime_daily", co),
            ("origin_weather_delay_daily", ow),
        ]:
            write(frame, name, date)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--batch", type=int, default=int(os.environ.get("LAKE_BACKFILL_BATCH", 31)))
    args = parser.parse_args()
    logging.getLogger("dagster").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        lake_dir = Path(tmp) / "lake"
        os.environ["LAKE_URL"] = str(lake_dir)
        os.environ["DAGSTER_HOME"] = str(Path(tmp) / "home")
        from lake_assets.pipeline import seed

        selected = days(args.days)
        t = time.perf_counter()
        seed.seed(selected[0], selected[-1])
        print(f"seeded {len(selected)} days of sources in {time.perf_counter() - t:.1f} s")
        plain = run_plain(selected, lake_dir, Path(tmp) / "plain")
        print(f"plain pandas script: {plain:.1f} s")
        lake_time, runs = run_lake(selected, args.batch)
        print(f"lake (Dagster, {runs} runs of <= {args.batch} partitions): {lake_time:.1f} s")
        objects = sum(1 for p in lake_dir.rglob("*") if p.is_file())
        print(
            f"ratio lake/plain: {lake_time / plain:.2f}x (target <= 2x); "
            f"{objects} objects in the lake; at {dt.datetime.now():%Y-%m-%d %H:%M}"
        )


if __name__ == "__main__":
    main()
