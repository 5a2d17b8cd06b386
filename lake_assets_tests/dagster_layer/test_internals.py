"""Guard for `lake_assets/dagster_layer/internals.py` (whose import already fails, saying so, on
a missing name): the installed Dagster is the verified one, and the private attributes and the
columns event_log_pruning's SQL uses are still there on real instances: PostgreSQL and both
SQLite layouts."""

from pathlib import Path

import dagster
import pytest
import sqlalchemy as db
from dagster import DagsterInstance
from dagster._core.storage.legacy_storage import LegacyEventLogStorage
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage

from lake_assets.dagster_layer import internals
from lake_assets.dagster_layer.internals import REVERIFY
from lake_assets_tests.operations.conftest import _instance, postgres_url  # noqa: F401

COLUMNS = {
    "event_logs": {"id", "run_id", "event", "dagster_event_type", "asset_key", "partition"},
    "asset_check_executions": {"asset_key", "check_name", "run_id"},
    "runs": {"run_id"},
    "run_tags": {"run_id"},
}
"""The columns event_log_pruning reads, filters on or deletes by, per table."""


def _require(obj: object, *names: str) -> None:
    missing = [name for name in names if not hasattr(obj, name)]
    if missing:
        pytest.fail(
            f"Dagster {dagster.__version__}: {type(obj).__name__} has no {missing}; {REVERIFY}",
            pytrace=False,
        )


def _require_columns(conn: db.Connection, *tables: str) -> None:
    inspector = db.inspect(conn)
    missing = [
        f"{table}.{column}"
        for table in tables
        for column in sorted(COLUMNS[table] - {c["name"] for c in inspector.get_columns(table)})
    ]
    if missing:
        pytest.fail(
            f"Dagster {dagster.__version__} ({conn.dialect.name}) has no column {missing}; "
            f"{REVERIFY}",
            pytrace=False,
        )


def test_dagster_is_the_verified_version():
    assert dagster.__version__ == internals.VERIFIED_DAGSTER, (
        f"Dagster is {dagster.__version__}, not {internals.VERIFIED_DAGSTER}: {REVERIFY}"
    )


def test_schema_objects_have_the_used_columns():
    tables = (
        internals.SqlEventLogStorageTable,
        internals.AssetCheckExecutionsTable,
        internals.RunsTable,
        internals.RunTagsTable,
    )
    missing = [f"{t.name}.{c}" for t in tables for c in sorted(COLUMNS[t.name] - set(t.c.keys()))]
    assert not missing, f"Dagster's schema objects lost {missing}: {REVERIFY}"


@pytest.fixture(params=["postgres", "sqlite_sharded", "sqlite_consolidated"])
def instance(request: pytest.FixtureRequest, tmp_path: Path):
    yield from _instance(request, tmp_path)


def test_storages_have_what_the_adapter_touches(instance: DagsterInstance):
    storage = internals.unwrap_event_log_storage(instance.event_log_storage)
    assert isinstance(storage, internals.SqlEventLogStorage), type(storage).__name__
    _require(storage, "index_connection", "supports_asset_checks", "is_run_sharded")
    with storage.index_connection() as conn:
        _require_columns(conn, "event_logs", "asset_check_executions")
    assert isinstance(instance.run_storage, internals.SqlRunStorage)
    with instance.run_storage.connect() as conn:
        _require_columns(conn, "runs", "run_tags")
    if isinstance(storage, internals.SqliteEventLogStorage):
        _require(storage, "run_connection", "path_for_shard", "_initialized_dbs")
        with storage.run_connection("guard") as conn:
            _require_columns(conn, "event_logs")
        internals.forget_shard(storage, "guard")
    else:
        assert isinstance(internals.event_log_engine(storage), db.engine.Engine), (
            f"{type(storage).__name__} has neither an _engine nor a _conn_string; {REVERIFY}"
        )


def test_private_attributes_outside_the_event_log(tmp_path: Path):
    with DagsterInstance.local_temp(str(tmp_path)) as instance:
        _require(instance.compute_log_manager, "_base_dir")
        assert internals.local_compute_log_dir(instance.compute_log_manager)
    legacy = LegacyEventLogStorage(DagsterSqliteStorage.from_local(str(tmp_path / "legacy")))
    _require(legacy, "_storage")
    unwrapped = internals.unwrap_event_log_storage(legacy)
    assert isinstance(unwrapped, internals.SqliteEventLogStorage)
