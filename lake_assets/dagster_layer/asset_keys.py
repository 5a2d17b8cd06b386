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

from dagster import AssetKey, MetadataValue

from lake_assets.lake import DatasetId, LakeError, parse_uri
from lake_assets.lake.contract.uri import SCHEME

URI_METADATA_KEY = "gros_uri"
"""Asset metadata naming the dataset (`gros://repo/branch`); input metadata naming the URI,
with its tag, that a dataset reads an upstream by."""

_OTHER = re.compile(r"[^A-Za-z0-9_.-]")


def asset_key(dataset: DatasetId) -> AssetKey:
    """`[branch, repo]`, the branch spelled for Dagster: `/` -> `.`, any other character it
    does not accept in a check name -> `_`."""
    return AssetKey([_OTHER.sub("_", dataset.branch.replace("/", ".")), dataset.repo])


def dataset_metadata(dataset: DatasetId) -> dict[str, MetadataValue]:
    """The exact dataset behind the key, as the asset's metadata (`dataset_of` reads it)."""
    return {
        URI_METADATA_KEY: MetadataValue.text(f"{SCHEME}{dataset}"),
        "repo": MetadataValue.text(dataset.repo),
        "branch": MetadataValue.text(dataset.branch),
    }


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


def dataset_of(key: AssetKey, metadata: Mapping[str, Any] | None = None) -> DatasetId:
    """The dataset behind an asset key: from its `gros_uri` metadata, else from the key itself
    when the branch needs no spelling; raises for an asset that is not a lake dataset."""
    declared = (metadata or {}).get(URI_METADATA_KEY)
    try:
        if declared is not None:
            return parse_uri(str(getattr(declared, "value", declared))).dataset
        if len(key.path) == 2 and asset_key(ds := DatasetId(key.path[1], key.path[0])) == key:
            return ds
    except LakeError:
        pass
    raise LakeError(
        f"asset {key.to_user_string()} is not a lake dataset: its key must be "
        f"[branch, repo] with {URI_METADATA_KEY!r} metadata naming gros://repo/branch"
    )
