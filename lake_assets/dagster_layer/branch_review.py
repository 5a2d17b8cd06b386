"""A branch's data change against the default branch, as materialization metadata: the
pull-request review of a branch deployment, shown per partition in the Dagster UI."""

from __future__ import annotations

from typing import Any

import pandas as pd
from dagster import MetadataValue

from lake_assets.lake import DatasetId, Lake, NotFound, lineage
from lake_assets.lake.contract.names import default_branch
from lake_assets.lake.diff import FrameDiff, diff_frames

PREFIX = "branch_diff/"


def branch_diff_metadata(
    lake: Lake, dataset: DatasetId, date: str, df: pd.DataFrame
) -> dict[str, Any]:
    """On a branch other than the default, what this partition changes against the default
    branch's same date: counts as numbers (so the UI plots them per day), the schema change
    as text. The base is read outside the step's lineage: it is compared, not an input."""
    base = DatasetId(dataset.repo, default_branch())
    if dataset == base:
        return {}
    uri = f"gros://{base}:{date}"
    private = object()
    try:
        base_df, ref = lake.read_with_ref(uri, scope=private)
    except NotFound:
        return {f"{PREFIX}base": MetadataValue.text(f"none: {base} has no {date}")}
    finally:
        lineage.forget(private)
    d = diff_frames(base_df, df, labels=(uri, f"gros://{dataset}:{date}"))
    return {
        f"{PREFIX}base": MetadataValue.text(f"{uri}@{(ref.sha256 or '')[:12]}"),
        f"{PREFIX}rows_added": MetadataValue.int(d.rows_added),
        f"{PREFIX}rows_removed": MetadataValue.int(d.rows_removed),
        f"{PREFIX}rows_changed": MetadataValue.int(d.rows_changed),
        f"{PREFIX}schema_change": MetadataValue.text(schema_change(d)),
    }


def schema_change(d: FrameDiff) -> str:
    parts = [f"+{c}" for c in d.columns_added] + [f"-{c}" for c in d.columns_removed]
    parts += [f"{c}: {a} -> {b}" for c, (a, b) in d.type_changes.items()]
    if d.columns_reordered:
        parts.append("columns reordered")
    return ", ".join(parts) or "none"
