"""lake_assets: a GitOps data lake of daily gzip-CSV datasets, as a Dagster code location.

`lake_assets.lake` is the protocol (no Dagster); `lake_assets.dagster_layer` puts Dagster on
top; `lake_assets.pipeline` is the example; `lake_assets.operations` runs the deployment.
"""

from lake_assets.lake.api import dates, publish, read, resolve
from lake_assets.lake.refs import GrosRef

__all__ = ["GrosRef", "dates", "publish", "read", "resolve"]
