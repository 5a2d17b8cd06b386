"""Asset keys of lake datasets: `[branch, repo]`.

Dagster labels a graph node with the last component of its key, so the dataset's name comes
last and the branch is the prefix the catalog folds. Dagster also derives check output names
from the key and accepts only letters, digits, `_`, `-` and `.` there, so the branch is spelled
with those alone: `/` becomes `.` (`feature/x` -> `feature.x`) and any other character `_`.
The spelling is not reversible; the exact branch stays in the lake's own keys and in each
asset's `gros_uri` metadata, which is where a key is turned back into its dataset.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from dagster import AssetKey

from lake_assets.lake import DatasetId, LakeError, parse_uri

URI_METADATA_KEY = "gros_uri"
"""Asset metadata naming the dataset (`gros://repo/branch`); input metadata naming the URI,
with its tag, that a dataset reads an upstream by."""

_OTHER = re.compile(r"[^A-Za-z0-9_.-]")


def branch_spelling(branch: str) -> str:
    """The branch as the key's first component: `/` -> `.`, any other character Dagster does
    not accept in a check name -> `_`."""
    return _OTHER.sub("_", branch.replace("/", "."))


def asset_key(dataset: DatasetId) -> AssetKey:
    return AssetKey([branch_spelling(dataset.branch), dataset.repo])


def check_spellings(datasets: Iterable[DatasetId]) -> None:
    """Refuse two branches of one deployment spelled the same (`feature/x`, `feature.x`): their
    assets would share a key."""
    seen: dict[AssetKey, DatasetId] = {}
    for ds in sorted(set(datasets)):
        key = asset_key(ds)
        if (other := seen.setdefault(key, ds)) != ds:
            raise LakeError(
                f"datasets {other} and {ds} would share the asset key {key.to_user_string()!r}: "
                f"branches {other.branch!r} and {ds.branch!r} are spelled the same in asset keys "
                "('/' becomes '.', other characters than letters, digits, '_', '-' and '.' "
                "become '_'); rename one of the branches"
            )


def dataset_or_none(key: AssetKey, metadata: Mapping[str, Any] | None = None) -> DatasetId | None:
    """The dataset behind an asset key: from its `gros_uri` metadata, else from the key itself
    when the branch needs no spelling. None for an asset that is not a lake dataset."""
    declared = (metadata or {}).get(URI_METADATA_KEY)
    if declared is not None:
        text = getattr(declared, "value", declared)
        try:
            return parse_uri(str(text)).dataset
        except LakeError:
            return None
    if len(key.path) != 2:
        return None
    branch, repo = key.path
    try:
        dataset = DatasetId(repo, branch)
    except LakeError:
        return None
    return dataset if asset_key(dataset) == key else None


def dataset_of(key: AssetKey, metadata: Mapping[str, Any] | None = None) -> DatasetId:
    """As `dataset_or_none`, raising for an asset that is not a lake dataset."""
    dataset = dataset_or_none(key, metadata)
    if dataset is None:
        raise LakeError(
            f"asset {key.to_user_string()} is not a lake dataset: its key must be "
            f"[branch, repo] with {URI_METADATA_KEY!r} metadata naming gros://repo/branch"
        )
    return dataset
