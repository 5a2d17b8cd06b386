"""The code location of the example pipeline: built by `lake_definitions`, as a team's repo
builds its own, plus the deployment's log-cleanup job and schedule."""

from lake_assets.dagster_layer.code_location import lake_definitions
from lake_assets.operations import OPERATIONS_JOBS, OPERATIONS_SCHEDULES
from lake_assets.pipeline.datasets import DATASETS, EXTERNAL

defs = lake_definitions(
    DATASETS, external=EXTERNAL, jobs=OPERATIONS_JOBS, schedules=OPERATIONS_SCHEDULES
)
