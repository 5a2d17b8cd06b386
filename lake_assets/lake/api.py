"""The public Python API over the lake `LAKE_URL` names (or the embedded default)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import pandas as pd

from lake_assets.lake.keys import DatasetId
from lake_assets.lake.lake import Lake
from lake_assets.lake.names import default_branch
from lake_assets.lake.refs import GrosRef
from lake_assets.lake.store import lake_url as default_lake_url

_ENDPOINT_VARS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")


@lru_cache(maxsize=32)
def _cached_lake(url: str, options: tuple[tuple[str, Any], ...], _endpoints: object) -> Lake:
    return Lake.open(url, **dict(options))


def lake_for(lake_url: str | None = None, **options: Any) -> Lake:
    """The lake at `lake_url` (else `LAKE_URL`, else the embedded default), one per process
    and set of options, so repeated reads reuse its S3 client and connections."""
    url = lake_url or default_lake_url()
    try:
        endpoints = tuple(os.environ.get(v) for v in _ENDPOINT_VARS)
        return _cached_lake(url, tuple(sorted(options.items())), endpoints)
    except TypeError:  # unhashable options (a botocore Config, say): not cached
        return Lake.open(url, **options)


def default_lake() -> Lake:
    return lake_for()


def _lake_for(storage_options: dict[str, Any]) -> Lake:
    options = dict(storage_options)
    return lake_for(options.pop("lake_url", None), **options)


def read(uri: str, **storage_options: Any) -> pd.DataFrame:
    """The DataFrame a `gros://` URI names; inside a run, the read becomes lineage."""
    return _lake_for(storage_options).read(uri)


def resolve(uri: str, **storage_options: Any) -> GrosRef:
    """The version a `gros://` URI names right now."""
    return _lake_for(storage_options).resolve(uri)


def dates(repo: str, branch: str | None = None, **storage_options: Any) -> list[str]:
    """The published dates of `(repo, branch)`, oldest first; UnknownDataset (naming the
    closest datasets) when the lake holds nothing of it, so a misspelling is not `[]`."""
    ds = DatasetId(repo, branch or default_branch())
    return _lake_for(storage_options).dates(ds, missing_ok=False)


def publish(
    df: pd.DataFrame,
    repo: str,
    branch: str | None,
    date: str | dt.date,
    upstreams: Iterable[GrosRef | str] | None = None,
    *,
    overwrite: bool = False,
    **storage_options: Any,
) -> GrosRef:
    """Publish `df` as `(repo, branch)` version `date`, as another team's job would.

    `upstreams` may be refs or `gros://` URIs (resolved now); left out, every version this
    process has read through the lake becomes an upstream. A date already published is
    AlreadyPublished unless `overwrite=True`, the rule of `lake publish --force`."""
    lake = _lake_for(storage_options)
    ups = None
    if upstreams is not None:
        ups = [u if isinstance(u, GrosRef) else lake.resolve(u) for u in upstreams]
    ds = DatasetId(repo, branch or default_branch())
    return lake.publish(df, ds, str(date), upstreams=ups, overwrite=overwrite)
