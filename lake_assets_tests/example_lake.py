"""A lake holding one day of every example dataset (the sources seeded, the pipeline built),
once per lake kind for a whole test module, and what tests compare engines' results with."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
from dagster import materialize

from lake_assets.dagster_layer.build import build_assets, resolve
from lake_assets.pipeline import seed, sources
from lake_assets.pipeline.datasets import DATASETS, EXTERNAL
from lake_assets_tests.dagster_layer.conftest import lake_resources

DAY = "2013-01-02"
REPOS = [
    sources.FLIGHTS,
    sources.WEATHER,
    sources.AIRLINES,
    sources.AIRPORTS,
    *(d.repo for d in DATASETS),
]
"""Every example dataset: the sources other teams publish and the pipeline's own."""


def example_lake(request: pytest.FixtureRequest, tmp: Path) -> Iterator[str]:
    """The URL of a lake (`request.param`: local or s3) with DAY of every example dataset;
    `LAKE_URL` names it while it is built."""
    if request.param == "local":
        url = str(tmp / "lake")
    else:
        bucket = f"engines-{uuid.uuid4().hex[:12]}"
        endpoint = request.getfixturevalue("s3_endpoint")
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
        url = f"s3://{bucket}/lake"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LAKE_URL", url)
        seed.seed(DAY, DAY)
        assets = build_assets(resolve(DATASETS, "master", EXTERNAL))
        assert materialize(assets, resources=lake_resources(url), partition_key=DAY).success
    yield url


def kind(series: pd.Series) -> str:
    """A pandas column's type as engines can name it too: bool, int, float, string, date,
    datetime (naive) or datetime[TZ]."""
    t = series.dtype
    if isinstance(t, pd.DatetimeTZDtype):
        return f"datetime[{t.tz}]"
    if t.kind == "M":
        return "datetime"
    if pd.api.types.is_bool_dtype(t):
        return "bool"
    if pd.api.types.is_integer_dtype(t):
        return "int"
    if pd.api.types.is_float_dtype(t):
        return "float"
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    return {"empty": "string", "string": "string", "date": "date"}.get(inferred, inferred)


def values(series: pd.Series) -> list[Any]:
    """Python values with every null None, as engines return them."""
    found = []
    for v in series.tolist():
        if v is None or v is pd.NaT or (not isinstance(v, str) and pd.isna(v)):
            found.append(None)
        elif isinstance(v, pd.Timestamp):
            found.append(v.to_pydatetime())
        else:
            found.append(v)
    return found


def same_instant(a: Any, b: Any) -> bool:
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime):
        return (a.tzinfo is None) == (b.tzinfo is None) and a == b
    return a == b
