"""The code location: every lake dataset, its checks, sensors, jobs and schedules."""

from dagster import Definitions

from lake_assets.dagster_layer.io_manager import LakeIOManager
from lake_assets.dagster_layer.resources import LakeResource

lake = LakeResource()

defs = Definitions(
    resources={"io_manager": LakeIOManager(lake=lake), "lake": lake},
)
