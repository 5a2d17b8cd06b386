"""Resources on the test's lake (local directory or moto's S3), as the definitions wire them."""

from __future__ import annotations

from typing import Any

import pytest

from lake_assets.dagster_layer.io_manager import LakeIOManager
from lake_assets.dagster_layer.resources import LakeResource


def lake_resources(url: str) -> dict[str, Any]:
    lake = LakeResource(lake_url=url)
    return {"io_manager": LakeIOManager(lake=lake), "lake": lake}


@pytest.fixture
def resources(lake_env: str) -> dict[str, Any]:
    return lake_resources(lake_env)
