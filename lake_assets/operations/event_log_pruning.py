"""Row-level pruning of a run's event log, where Dagster has no API for it.

Dagster can only delete a run's events all at once (``delete_events``), which would also drop
the asset materializations the UI builds partition status from. These classes delete the other
rows straight from the storage's own ``event_logs`` table, using Dagster's schema objects, and
keep every row an asset or the run's status depends on.
"""

import os
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

import sqlalchemy as db
from dagster import DagsterInstance
from dagster._core.events import (
    ASSET_CHECK_EVENTS,
    ASSET_EVENTS,
    EVENT_TYPE_TO_PIPELINE_RUN_STATUS,
    DagsterEventType,
)
from dagster._core.storage.event_log.base import EventLogStorage
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.legacy_storage import LegacyEventLogStorage
from dagster._core.storage.runs.schema import RunsTable, RunTagsTable
from dagster._core.storage.runs.sql_run_storage import SqlRunStorage
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

ASSET_HISTORY_EVENT_TYPES: frozenset[str] = frozenset(
    event_type.value for event_type in ASSET_EVENTS | ASSET_CHECK_EVENTS
)
"""Events that make up asset history: materializations, observations, planned and failed
materializations, freshness changes, check evaluations and planned checks. The asset catalog,
partition status (materialized, failed, in progress) and check history are all read from these
rows and from the asset tables, which pruning never touches."""

RUN_STATUS_EVENT_TYPES: frozenset[str] = frozenset(
    event_type.value for event_type in EVENT_TYPE_TO_PIPELINE_RUN_STATUS
) | {DagsterEventType.RUN_DEQUEUED.value}
"""Run lifecycle events: a handful per run, they keep the run page's timeline and the run-status
queries (run status sensors, the SQLite index shard) consistent."""

KEPT_EVENT_TYPES: frozenset[str] = ASSET_HISTORY_EVENT_TYPES | RUN_STATUS_EVENT_TYPES

_table = SqlEventLogStorageTable


@dataclass(frozen=True)
class EventVolume:
    """How many event rows (and bytes of serialized event) a set of runs holds."""

    events: int = 0
    bytes: int = 0

    def __add__(self, other: "EventVolume") -> "EventVolume":
        return EventVolume(self.events + other.events, self.bytes + other.bytes)


def _bulky_rows() -> db.ColumnElement[bool]:
    return db.or_(
        _table.c.dagster_event_type.is_(None),
        _table.c.dagster_event_type.notin_(sorted(KEPT_EVENT_TYPES)),
    )


def _byte_length(conn: Connection) -> db.ColumnElement[int]:
    if conn.dialect.name == "sqlite":
        return db.func.length(db.cast(_table.c.event, db.LargeBinary))
    return db.func.octet_length(_table.c.event)


def _volume_by_run(
    conn: Connection, run_ids: Sequence[str], bulky_only: bool
) -> dict[str, EventVolume]:
    query = db.select(
        _table.c.run_id,
        db.func.count(_table.c.id),
        db.func.coalesce(db.func.sum(_byte_length(conn)), 0),
    ).where(_table.c.run_id.in_(run_ids))
    if bulky_only:
        query = query.where(_bulky_rows())
    rows = conn.execute(query.group_by(_table.c.run_id)).fetchall()
    return {run_id: EventVolume(int(count), int(size)) for run_id, count, size in rows}


def _runs_with_asset_history(conn: Connection, run_ids: Sequence[str]) -> set[str]:
    query = (
        db.select(_table.c.run_id)
        .where(_table.c.run_id.in_(run_ids))
        .where(_table.c.dagster_event_type.in_(sorted(ASSET_HISTORY_EVENT_TYPES)))
        .distinct()
    )
    return {row[0] for row in conn.execute(query)}


class EventLogPruner:
    """Event-log operations over runs whose events share one table (PostgreSQL, MySQL,
    consolidated or in-memory SQLite)."""

    def __init__(self, storage: SqlEventLogStorage):
        self._storage = storage

    def _connection(self, run_id: str | None = None) -> AbstractContextManager[Connection]:
        return self._storage.index_connection()

    def runs_with_asset_history(self, run_ids: Sequence[str]) -> set[str]:
        """Runs that wrote at least one asset or asset-check event."""
        if not run_ids:
            return set()
        with self._connection() as conn:
            return _runs_with_asset_history(conn, run_ids)

    def volume(self, run_ids: Sequence[str], bulky_only: bool) -> dict[str, EventVolume]:
        """Event rows and bytes per run: all of them, or only those pruning would delete."""
        if not run_ids:
            return {}
        with self._connection() as conn:
            return _volume_by_run(conn, run_ids, bulky_only)

    def prune(self, run_ids: Sequence[str]) -> None:
        """Delete every event of these runs that is neither asset history nor run status."""
        if not run_ids:
            return
        with self._connection() as conn:
            conn.execute(_table.delete().where(_table.c.run_id.in_(run_ids)).where(_bulky_rows()))

    def delete_runs(self, instance: DagsterInstance, run_ids: Sequence[str]) -> None:
        """Delete runs that wrote no asset event, with all their events, in one statement per
        table: ``instance.delete_run`` costs several round trips per run. Such runs own no
        asset event tags and, being finished, no concurrency slots."""
        if not run_ids:
            return
        run_storage = instance.run_storage
        if not isinstance(run_storage, SqlRunStorage):
            for run_id in run_ids:
                instance.delete_run(run_id)
            return
        with self._connection() as conn:
            conn.execute(_table.delete().where(_table.c.run_id.in_(run_ids)))
        with run_storage.connect() as conn:
            conn.execute(RunTagsTable.delete().where(RunTagsTable.c.run_id.in_(run_ids)))
            conn.execute(RunsTable.delete().where(RunsTable.c.run_id.in_(run_ids)))

    def reclaim_space(self, full: bool) -> None:
        """Give the deleted rows' space back: plain VACUUM makes it reusable without locking
        writers; VACUUM FULL (or SQLite's VACUUM) also returns it to the file system."""
        with self._storage.index_connection() as conn:
            dialect = conn.dialect.name
        if dialect == "postgresql":
            statement = (
                "VACUUM (FULL, ANALYZE) event_logs" if full else "VACUUM (ANALYZE) event_logs"
            )
        elif dialect == "sqlite":
            statement = "VACUUM"
        else:
            return
        engine = _engine_of(self._storage)
        if engine is None:
            return
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(statement)


class RunShardedEventLogPruner(EventLogPruner):
    """The default local SQLite layout (``dagster dev``, ``DagsterInstance.local_temp``): every
    run's events live in ``<run_id>.db``; asset, check and run-status events are mirrored into
    ``index.db``, which the asset queries read. Pruning only touches the run's own shard."""

    def __init__(self, storage: SqliteEventLogStorage):
        super().__init__(storage)
        self._sharded = storage
        self._pruned: list[str] = []

    def _shard_exists(self, run_id: str) -> bool:
        return os.path.exists(self._sharded.path_for_shard(run_id))

    def runs_with_asset_history(self, run_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for run_id in run_ids:
            if not self._shard_exists(run_id):
                continue
            with self._sharded.run_connection(run_id) as conn:
                found |= _runs_with_asset_history(conn, [run_id])
        return found

    def volume(self, run_ids: Sequence[str], bulky_only: bool) -> dict[str, EventVolume]:
        result: dict[str, EventVolume] = {}
        for run_id in run_ids:
            if not self._shard_exists(run_id):
                continue
            with self._sharded.run_connection(run_id) as conn:
                result.update(_volume_by_run(conn, [run_id], bulky_only))
        return result

    def prune(self, run_ids: Sequence[str]) -> None:
        for run_id in run_ids:
            if not self._shard_exists(run_id):
                continue
            with self._sharded.run_connection(run_id) as conn:
                conn.execute(_table.delete().where(_table.c.run_id == run_id).where(_bulky_rows()))
            self._pruned.append(run_id)

    def delete_runs(self, instance: DagsterInstance, run_ids: Sequence[str]) -> None:
        for run_id in run_ids:
            instance.delete_run(run_id)
            self._forget_run(run_id)

    def _forget_run(self, run_id: str) -> None:
        """``delete_events`` empties a run shard but leaves the file; remove it, and forget that
        it was initialized so a later read recreates its tables instead of failing."""
        for suffix in ("", "-wal", "-shm"):
            path = self._sharded.path_for_shard(run_id) + suffix
            if os.path.exists(path):
                os.remove(path)
        self._sharded._initialized_dbs.discard(run_id)

    def reclaim_space(self, full: bool) -> None:
        for run_id in self._pruned:
            path = self._sharded.path_for_shard(run_id)
            if os.path.exists(path):
                with sqlite3.connect(path, isolation_level=None) as conn:
                    conn.execute("VACUUM")
        self._pruned.clear()


def _engine_of(storage: SqlEventLogStorage) -> db.engine.Engine | None:
    """The storage's engine (PostgreSQL, MySQL) or one for its file (consolidated SQLite):
    VACUUM cannot run inside the transaction ``index_connection`` opens."""
    engine = getattr(storage, "_engine", None)
    if isinstance(engine, db.engine.Engine):
        return engine
    conn_string = getattr(storage, "_conn_string", None)
    if isinstance(conn_string, str):
        return db.create_engine(conn_string, poolclass=NullPool)
    return None


def pruner_for(storage: EventLogStorage) -> EventLogPruner:
    """Pick the pruner for the instance's event log storage; fail clearly on one we can't prune."""
    while isinstance(storage, LegacyEventLogStorage):
        storage = storage._storage.event_log_storage
    if isinstance(storage, SqliteEventLogStorage):
        return RunShardedEventLogPruner(storage)
    if isinstance(storage, SqlEventLogStorage) and not storage.is_run_sharded:
        return EventLogPruner(storage)
    raise TypeError(
        f"Log cleanup supports SQL event log storages (PostgreSQL, MySQL, SQLite); "
        f"this instance uses {type(storage).__name__}, which it cannot prune."
    )
