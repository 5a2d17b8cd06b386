"""lake_assets: a GitOps data lake of daily gzip-CSV datasets, as a Dagster code location.

`lake_assets.lake` is the protocol (no Dagster); `lake_assets.dagster_layer` puts Dagster on
top; `lake_assets.pipeline` is the example; `lake_assets.operations` runs the deployment;
`lake_assets.cli` is the `lake` command. The public API below loads on first use, so
importing a submodule (the CLI, `gros://`) does not pay for it: reading and publishing, other
engines, and what a team's repo declares its own code location with.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lake_assets.dagster_layer.build import ExternalSource, deployment_branch
    from lake_assets.dagster_layer.code_location import lake_definitions
    from lake_assets.dagster_layer.context import DatasetContext
    from lake_assets.dagster_layer.declare import dataset
    from lake_assets.lake.api import dates, publish, read, resolve
    from lake_assets.lake.contract.keys import DatasetId
    from lake_assets.lake.contract.refs import GrosRef
    from lake_assets.lake.engines import read_arrow, read_polars, sql

_PUBLIC = {
    "DatasetId": "lake_assets.lake.contract.keys",
    "GrosRef": "lake_assets.lake.contract.refs",
    "dates": "lake_assets.lake.api",
    "publish": "lake_assets.lake.api",
    "read": "lake_assets.lake.api",
    "resolve": "lake_assets.lake.api",
    "read_arrow": "lake_assets.lake.engines",
    "read_polars": "lake_assets.lake.engines",
    "sql": "lake_assets.lake.engines",
    "dataset": "lake_assets.dagster_layer.declare",
    "DatasetContext": "lake_assets.dagster_layer.context",
    "ExternalSource": "lake_assets.dagster_layer.build",
    "deployment_branch": "lake_assets.dagster_layer.build",
    "lake_definitions": "lake_assets.dagster_layer.code_location",
}

__all__ = [
    "DatasetContext",
    "DatasetId",
    "ExternalSource",
    "GrosRef",
    "dataset",
    "dates",
    "deployment_branch",
    "lake_definitions",
    "publish",
    "read",
    "read_arrow",
    "read_polars",
    "resolve",
    "sql",
]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'lake_assets' has no attribute {name!r}")
