"""lake_assets: a GitOps data lake of daily gzip-CSV datasets, as a Dagster code location.

`lake_assets.lake` is the protocol (no Dagster); `lake_assets.dagster_layer` puts Dagster on
top; `lake_assets.pipeline` is the example; `lake_assets.operations` runs the deployment;
`lake_assets.cli` is the `lake` command. The public API below loads on first use, so
importing a submodule (the CLI, `gros://`) does not pay for it.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lake_assets.lake.api import dates, publish, read, resolve
    from lake_assets.lake.contract.refs import GrosRef
    from lake_assets.lake.engines import read_arrow, read_polars, sql

__all__ = ["GrosRef", "dates", "publish", "read", "read_arrow", "read_polars", "resolve", "sql"]


def __getattr__(name: str) -> Any:
    if name == "GrosRef":
        from lake_assets.lake.contract.refs import GrosRef

        return GrosRef
    if name in ("dates", "publish", "read", "resolve"):
        from lake_assets.lake import api

        return getattr(api, name)
    if name in ("read_arrow", "read_polars", "sql"):
        from lake_assets.lake import engines

        return getattr(engines, name)
    raise AttributeError(f"module 'lake_assets' has no attribute {name!r}")
