"""How the lake names OpenLineage runs and namespaces, so a live event and an export of the
same version agree without either remembering the other."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lake_assets.lake.contract.keys import DatasetId

_RUNS = uuid.uuid5(uuid.NAMESPACE_URL, "gros://openlineage/runs")


@functools.lru_cache(maxsize=64)
def namespace(lake_url: str) -> str:
    """The lake as an OpenLineage namespace: its URL (a local lake as `file://` URL)."""
    return lake_url if "://" in lake_url else Path(lake_url).resolve().as_uri()


def run_id(
    lake_url: str,
    dataset: DatasetId,
    date: str,
    producer: Mapping[str, Any],
    created_at: str | None,
) -> str:
    """A UUID for the run that makes `dataset` version `date`. A Dagster run publishes many
    versions and OpenLineage runs belong to one job, so it is derived from the Dagster run id
    (the parent run) with the dataset and date; outside Dagster from the version's creation
    time, which its production record keeps."""
    if dagster_run := producer.get("run_id"):
        name = f"dagster:{dagster_run}/{dataset}/{date}"
    else:
        name = f"{namespace(lake_url)}/{dataset}/{date}@{created_at}"
    return str(uuid.uuid5(_RUNS, name))
