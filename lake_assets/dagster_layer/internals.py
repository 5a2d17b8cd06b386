"""The one place in `lake_assets` that uses Dagster internals (`dagster._core`, private
attributes, Dagster's SQL schema); everything else imports them from here. Each has no public
equivalent in Dagster 1.13 (`RunsFilter`, `DagsterRunStatus`, `DagsterEventType`,
`EventLogEntry`, `StepExecutionContext`, `deserialize_value` are public and used directly):

- run tags (`PARTITION_NAME_TAG`, `ASSET_PARTITION_RANGE_*_TAG`, `SENSOR_NAME_TAG`): what a
  run builds and who launched it; `BulkActionsFilter`/`BulkActionStatus`: the filter for the
  public `instance.get_backfills(filters=...)` (run_state, sensors: what is in flight).
- `AssetCheckEvaluationTargetMaterializationData`: the type of the public
  `AssetCheckEvaluation.target_materialization_data`, naming the materialization a
  per-partition check evaluation is about (checks, compute).
- `UnresolvedAssetJobDefinition`: what `define_asset_job` returns (build).
- `FINISHED_STATUSES`, `local_compute_log_dir` (`LocalComputeLogManager._base_dir`): which
  runs may be cleaned, and where their compute logs sit to measure them (cleanup).
- event types, event-log and run storages, their tables and engines (`_engine`,
  `_conn_string`, `LegacyEventLogStorage._storage`, a shard's `_initialized_dbs`): Dagster
  cannot delete single event rows, so event_log_pruning deletes them with SQL on Dagster's own
  schema, through the storages' `index_connection`, `run_connection`, `path_for_shard`,
  `connect`.

A name gone from Dagster fails the import here, saying so; the guard test
`lake_assets_tests/dagster_layer/test_internals.py` fails when the installed Dagster is not
`VERIFIED_DAGSTER` or when an attribute or table column used here is gone.
"""

import dagster
import sqlalchemy as db
from sqlalchemy.pool import NullPool

VERIFIED_DAGSTER = "1.13.27"
REVERIFY = (
    "re-verify lake_assets/dagster_layer/internals.py against the new version, "
    "then bump VERIFIED_DAGSTER"
)

try:
    from dagster._core.definitions.asset_checks.asset_check_evaluation import (
        AssetCheckEvaluationTargetMaterializationData,
    )
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )
    from dagster._core.events import (
        ASSET_CHECK_EVENTS,
        ASSET_EVENTS,
        EVENT_TYPE_TO_PIPELINE_RUN_STATUS,
    )
    from dagster._core.execution.backfill import BulkActionsFilter, BulkActionStatus
    from dagster._core.storage.compute_log_manager import ComputeLogManager
    from dagster._core.storage.dagster_run import FINISHED_STATUSES
    from dagster._core.storage.event_log.base import EventLogStorage
    from dagster._core.storage.event_log.schema import (
        AssetCheckExecutionsTable,
        SqlEventLogStorageTable,
    )
    from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
    from dagster._core.storage.legacy_storage import LegacyEventLogStorage
    from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager
    from dagster._core.storage.runs.schema import RunsTable, RunTagsTable
    from dagster._core.storage.runs.sql_run_storage import SqlRunStorage
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
        PARTITION_NAME_TAG,
        SENSOR_NAME_TAG,
    )
except ImportError as exc:
    raise ImportError(f"Dagster {dagster.__version__}: {exc}; {REVERIFY}") from exc

__all__ = [
    "ASSET_CHECK_EVENTS",
    "ASSET_EVENTS",
    "ASSET_PARTITION_RANGE_END_TAG",
    "ASSET_PARTITION_RANGE_START_TAG",
    "EVENT_TYPE_TO_PIPELINE_RUN_STATUS",
    "FINISHED_STATUSES",
    "PARTITION_NAME_TAG",
    "SENSOR_NAME_TAG",
    "AssetCheckEvaluationTargetMaterializationData",
    "AssetCheckExecutionsTable",
    "BulkActionStatus",
    "BulkActionsFilter",
    "EventLogStorage",
    "RunTagsTable",
    "RunsTable",
    "SqlEventLogStorage",
    "SqlEventLogStorageTable",
    "SqlRunStorage",
    "SqliteEventLogStorage",
    "UnresolvedAssetJobDefinition",
    "event_log_engine",
    "forget_shard",
    "local_compute_log_dir",
    "unwrap_event_log_storage",
]


def local_compute_log_dir(manager: ComputeLogManager) -> str | None:
    """The directory of a local compute log manager (runs' logs are in `<dir>/<run_id>`)."""
    return manager._base_dir if isinstance(manager, LocalComputeLogManager) else None


def unwrap_event_log_storage(storage: EventLogStorage) -> EventLogStorage:
    """The event log storage inside a `LegacyEventLogStorage` (a whole `DagsterStorage`)."""
    while isinstance(storage, LegacyEventLogStorage):
        storage = storage._storage.event_log_storage
    return storage


def forget_shard(storage: SqliteEventLogStorage, run_id: str) -> None:
    """Forget that a run's shard was initialized, so a later read recreates its tables."""
    storage._initialized_dbs.discard(run_id)


def event_log_engine(storage: SqlEventLogStorage) -> db.engine.Engine | None:
    """The storage's engine (PostgreSQL, MySQL) or one for its file (consolidated SQLite):
    VACUUM cannot run inside the transaction ``index_connection`` opens."""
    engine = getattr(storage, "_engine", None)
    if isinstance(engine, db.engine.Engine):
        return engine
    conn_string = getattr(storage, "_conn_string", None)
    if isinstance(conn_string, str):
        return db.create_engine(conn_string, poolclass=NullPool)
    return None
