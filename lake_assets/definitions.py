"""The code location: every lake dataset, its checks, sensors, jobs and schedules."""

from dagster import Definitions

from lake_assets.dagster_layer.build import build_definitions, resolve
from lake_assets.dagster_layer.io_manager import LakeIOManager
from lake_assets.dagster_layer.resources import LakeResource
from lake_assets.dagster_layer.sensors import build_upstream_sensor
from lake_assets.operations import OPERATIONS_JOBS, OPERATIONS_SCHEDULES
from lake_assets.pipeline.datasets import DATASETS, EXTERNAL


def _definitions() -> Definitions:
    """One function, so the module holds a single Definitions object (Dagster requires it)."""
    lake = LakeResource()
    graph = resolve(DATASETS, external=EXTERNAL)
    return Definitions.merge(
        build_definitions(graph),
        Definitions(
            resources={"io_manager": LakeIOManager(lake=lake), "lake": lake},
            sensors=[build_upstream_sensor(graph)],
            jobs=OPERATIONS_JOBS,
            schedules=OPERATIONS_SCHEDULES,
        ),
    )


defs = _definitions()
