"""One call builds a team's code location from its declared datasets: the assets with their
blocking checks, the lake IO manager and resource, the `latest` sensor for its upstreams, and
whatever jobs, schedules, sensors and resources the team adds. The example pipeline
(`lake_assets.definitions`) is built by it like any team's repo."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dagster import Definitions

from lake_assets.dagster_layer.build import ExternalSource, build_definitions, resolve
from lake_assets.dagster_layer.declare import Dataset
from lake_assets.dagster_layer.io_manager import LakeIOManager
from lake_assets.dagster_layer.resources import LakeResource
from lake_assets.dagster_layer.sensors import build_upstream_sensor


def lake_definitions(
    datasets: Sequence[Dataset],
    *,
    external: Sequence[ExternalSource] = (),
    branch: str | None = None,
    lake_url: str | None = None,
    jobs: Sequence[Any] = (),
    schedules: Sequence[Any] = (),
    sensors: Sequence[Any] = (),
    resources: Mapping[str, Any] | None = None,
) -> Definitions:
    """The `Definitions` of a code location publishing `datasets` (each `@dataset`) to the
    lake at `lake_url` (else `LAKE_URL`) on `branch` (else `LAKE_BRANCH`, else the default).
    Other teams' datasets it reads are external assets: described by `external` where given,
    never defined twice, so several locations share one lineage graph."""
    lake = LakeResource(lake_url=lake_url)
    graph = resolve(datasets, branch, external)
    return Definitions.merge(
        build_definitions(graph),
        Definitions(
            resources={"io_manager": LakeIOManager(lake=lake), "lake": lake, **(resources or {})},
            sensors=[build_upstream_sensor(graph), *sensors],
            jobs=list(jobs),
            schedules=list(schedules),
        ),
    )
