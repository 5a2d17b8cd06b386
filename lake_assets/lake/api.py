"""The public Python API over the lake `LAKE_URL` names (or the embedded default).

`storage_options` are those of `pd.read_csv("gros://...", storage_options=...)`: `lake_url`
names another lake, the rest are boto3 client arguments such as `endpoint_url`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pandas as pd

from lake_assets.lake.contract.keys import DatasetId
from lake_assets.lake.contract.names import default_branch
from lake_assets.lake.contract.refs import GrosRef
from lake_assets.lake.lake import Lake


def _dataset(repo: str, branch: str | None) -> DatasetId:
    """None is the default branch; an empty branch is an error like any invalid one, so a
    branch deployment with an unset variable never writes the default branch by accident."""
    return DatasetId(repo, default_branch() if branch is None else branch)


def read(uri: str, *, lake_url: str | None = None, **storage_options: Any) -> pd.DataFrame:
    """The DataFrame a `gros://` URI names; inside a run, the read becomes lineage."""
    return Lake.open(lake_url, **storage_options).read(uri)


def resolve(uri: str, *, lake_url: str | None = None, **storage_options: Any) -> GrosRef:
    """The version a `gros://` URI names right now."""
    return Lake.open(lake_url, **storage_options).resolve(uri)


def dates(
    repo: str, branch: str | None = None, *, lake_url: str | None = None, **storage_options: Any
) -> list[str]:
    """The published dates of `(repo, branch)`, oldest first; UnknownDataset (naming the
    closest datasets) when the lake holds nothing of it, so a misspelling is not `[]`."""
    return Lake.open(lake_url, **storage_options).dates(_dataset(repo, branch), missing_ok=False)


def publish(
    df: pd.DataFrame,
    repo: str,
    branch: str | None,
    date: str | dt.date,
    upstreams: Iterable[GrosRef | str] | None = None,
    *,
    overwrite: bool = False,
    lake_url: str | None = None,
    **storage_options: Any,
) -> GrosRef:
    """Publish `df` as `(repo, branch)` version `date`, as another team's job would.

    `upstreams` may be refs or `gros://` URIs (resolved now); left out, every version this
    process has read through the lake becomes an upstream. A date already published is
    AlreadyPublished unless `overwrite=True`, the rule of `lake publish --force`."""
    lake = Lake.open(lake_url, **storage_options)
    ds = _dataset(repo, branch)
    ups = None
    if upstreams is not None:
        ups = [u if isinstance(u, GrosRef) else lake.resolve(u) for u in upstreams]
    return lake.publish(df, ds, str(date), upstreams=ups, overwrite=overwrite)
