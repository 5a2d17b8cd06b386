"""The public Python API over the lake `LAKE_URL` names (or the embedded default)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import pandas as pd

from lake_assets.lake.keys import DatasetId
from lake_assets.lake.lake import Lake
from lake_assets.lake.names import default_branch
from lake_assets.lake.refs import GrosRef
from lake_assets.lake.store import lake_url


@lru_cache(maxsize=8)
def _lake(url: str) -> Lake:
    return Lake.open(url)


def default_lake() -> Lake:
    return _lake(lake_url())


def _lake_for(storage_options: dict[str, Any]) -> Lake:
    if not storage_options:
        return default_lake()
    options = dict(storage_options)
    return Lake.open(options.pop("lake_url", None), **options)


def read(uri: str, **storage_options: Any) -> pd.DataFrame:
    """The DataFrame a `gros://` URI names; inside a run, the read becomes lineage."""
    return _lake_for(storage_options).read(uri)


def resolve(uri: str, **storage_options: Any) -> GrosRef:
    """The version a `gros://` URI names right now."""
    return _lake_for(storage_options).resolve(uri)


def dates(repo: str, branch: str | None = None, **storage_options: Any) -> list[str]:
    """The published dates of `(repo, branch)`, oldest first."""
    return _lake_for(storage_options).dates(DatasetId(repo, branch or default_branch()))


def publish(
    df: pd.DataFrame,
    repo: str,
    branch: str | None,
    date: str | dt.date,
    upstreams: Iterable[GrosRef | str] | None = None,
    **storage_options: Any,
) -> GrosRef:
    """Publish `df` as `(repo, branch)` version `date`, as another team's job would.

    `upstreams` may be refs or `gros://` URIs (resolved now); left out, every version this
    process has read through the lake becomes an upstream."""
    lake = _lake_for(storage_options)
    ups = None
    if upstreams is not None:
        ups = [u if isinstance(u, GrosRef) else lake.resolve(u) for u in upstreams]
    return lake.publish(df, DatasetId(repo, branch or default_branch()), str(date), upstreams=ups)
