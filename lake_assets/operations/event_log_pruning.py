"""Row-level pruning of a run's event log, where Dagster has no API for it.

Dagster can only delete a run's events all at once (``delete_events``), which would also drop
the asset materializations the UI builds partition status from. ``EventLogPruner`` deletes the
other rows straight from the storage's own ``event_logs`` table, using Dagster's schema objects,
and keeps every row an asset or the run's status depends on. Of the asset rows, only plans that
Dagster's reads can no longer tell apart from their outcome are removed (``redundant_events``).
"""

import os
import sqlite3
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass

import sqlalchemy as db
from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    EventLogEntry,
    RunsFilter,
    deserialize_value,
)
from sqlalchemy.engine import Connection

from lake_assets.dagster_layer.internals import (
    ASSET_CHECK_EVENTS,
    ASSET_EVENTS,
    EVENT_TYPE_TO_PIPELINE_RUN_STATUS,
    FINISHED_STATUSES,
    AssetCheckExecutionsTable,
    EventLogStorage,
    RunsTable,
    RunTagsTable,
    SqlEventLogStorage,
    SqlEventLogStorageTable,
    SqliteEventLogStorage,
    SqlRunStorage,
    event_log_engine,
    forget_shard,
    unwrap_event_log_storage,
)

ASSET_HISTORY_EVENT_TYPES: frozenset[str] = frozenset(
    event_type.value for event_type in ASSET_EVENTS | ASSET_CHECK_EVENTS
)
"""Asset and check events: the asset catalog, partition status and check history are read from
these rows and the asset tables, so pruning removes only the rows ``redundant_events`` picks."""

RUN_STATUS_EVENT_TYPES: frozenset[str] = frozenset(
    event_type.value
    for event_type, status in EVENT_TYPE_TO_PIPELINE_RUN_STATUS.items()
    if status in FINISHED_STATUSES
)
"""A finished run's terminal event: without it the run page shows the run as still going. The
other lifecycle events go: their times are in the ``runs`` table the UI reads, and the kept
rows only lose their time since the run's start."""

KEPT_EVENT_TYPES: frozenset[str] = ASSET_HISTORY_EVENT_TYPES | RUN_STATUS_EVENT_TYPES

_PLANNED = DagsterEventType.ASSET_MATERIALIZATION_PLANNED.value
_MATERIALIZED = DagsterEventType.ASSET_MATERIALIZATION.value
_CHECK_PLANNED = DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED.value
_CHUNK = 500
"""Ids per ``IN`` list: well below SQLite's and MySQL's statement limits."""

_table = SqlEventLogStorageTable
_checks = AssetCheckExecutionsTable


@dataclass(frozen=True)
class EventVolume:
    """How many event rows (and bytes of serialized event) a set of runs holds."""

    events: int = 0
    bytes: int = 0

    def __add__(self, other: "EventVolume") -> "EventVolume":
        return EventVolume(self.events + other.events, self.bytes + other.bytes)


def _chunks(items: Sequence, size: int = _CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _bulky_rows(run_ids: Sequence[str]) -> db.ColumnElement[bool]:
    return db.and_(
        _table.c.run_id.in_(run_ids),
        db.or_(
            _table.c.dagster_event_type.is_(None),
            _table.c.dagster_event_type.notin_(sorted(KEPT_EVENT_TYPES)),
        ),
    )


def _add_volume(conn: Connection, where: db.ColumnElement[bool], into: dict[str, EventVolume]):
    """Add the rows and bytes matching ``where`` to ``into``, per run."""
    if conn.dialect.name == "sqlite":
        size = db.func.length(db.cast(_table.c.event, db.LargeBinary))
    else:
        size = db.func.octet_length(_table.c.event)
    query = db.select(
        _table.c.run_id, db.func.count(_table.c.id), db.func.coalesce(db.func.sum(size), 0)
    )
    for run_id, count, total in conn.execute(query.where(where).group_by(_table.c.run_id)):
        into[run_id] = into.get(run_id, EventVolume()) + EventVolume(int(count), int(total))


def _same_partition(
    other: db.FromClause, plan: db.FromClause, event_type: str, partitioned: bool
) -> db.ColumnElement[bool]:
    return db.and_(
        other.c.asset_key == plan.c.asset_key,
        other.c.dagster_event_type == event_type,
        other.c.partition == plan.c.partition if partitioned else other.c.partition.is_(None),
    )


def _fulfilled_plans(
    conn: Connection, succeeded: Sequence[str], partitioned: bool
) -> list[tuple[int, bool]]:
    """Planned materializations of successful runs that the same run went on to materialize,
    other than the newest plan of their asset, with whether a later plan exists for the same
    partition: ``(storage id, superseded)``. Partitioned and unpartitioned plans are separate
    queries so each probe uses one of Dagster's asset indexes."""
    plan, done, later, newest = (_table.alias(name) for name in ("plan", "done", "later", "newest"))
    newest_plan = (
        db.select(db.func.max(newest.c.id))
        .where(newest.c.asset_key == plan.c.asset_key, newest.c.dagster_event_type == _PLANNED)
        .scalar_subquery()
    )
    query = db.select(
        plan.c.id,
        db.exists().where(
            _same_partition(later, plan, _PLANNED, partitioned), later.c.id > plan.c.id
        ),
    ).where(
        plan.c.run_id.in_(succeeded),
        plan.c.dagster_event_type == _PLANNED,
        plan.c.asset_key.isnot(None),
        plan.c.partition.isnot(None) if partitioned else plan.c.partition.is_(None),
        db.exists().where(
            _same_partition(done, plan, _MATERIALIZED, partitioned),
            done.c.run_id == plan.c.run_id,
            done.c.id > plan.c.id,
        ),
        plan.c.id < newest_plan,
    )
    return [(int(storage_id), bool(superseded)) for storage_id, superseded in conn.execute(query)]


def _earlier_plan_runs(
    conn: Connection, storage_ids: Sequence[int], partitioned: bool
) -> dict[int, set[str]]:
    """For each of these plans, the runs of all earlier plans of the same asset partition."""
    plan, earlier = _table.alias("plan"), _table.alias("earlier")
    joined = plan.join(
        earlier,
        db.and_(_same_partition(earlier, plan, _PLANNED, partitioned), earlier.c.id < plan.c.id),
    )
    result: dict[int, set[str]] = {storage_id: set() for storage_id in storage_ids}
    for chunk in _chunks(storage_ids):
        query = db.select(plan.c.id, earlier.c.run_id).select_from(joined)
        for storage_id, run_id in conn.execute(query.where(plan.c.id.in_(chunk))):
            result[int(storage_id)].add(run_id)
    return result


def _run_statuses(instance: DagsterInstance, run_ids: Sequence[str]) -> dict[str, DagsterRunStatus]:
    """Status of each run by id; a run missing from the answer no longer exists."""
    found: dict[str, DagsterRunStatus] = {}
    for chunk in _chunks(run_ids):
        for record in instance.get_run_records(filters=RunsFilter(run_ids=list(chunk))):
            found[record.dagster_run.run_id] = record.dagster_run.status
    return found


def _redundant_plans(
    conn: Connection, instance: DagsterInstance, succeeded: Sequence[str]
) -> list[int]:
    """Planned materializations that no Dagster read can tell from the materialization that
    followed them in the same successful run.

    Dagster 1.13 reads plans in three ways. (1) Failed and in-progress partitions come from
    ``get_latest_asset_partition_materialization_attempts_without_materializations``, which only
    looks at the newest plan of a partition and drops it when a newer materialization exists:
    a plan followed by its materialization never counts, and removing it leaves an older plan
    that is older still than that materialization. (2) The newest plan of the whole asset drives
    the asset's in-progress runs, the unpartitioned failed/in-progress status and automation
    conditions: that plan is always kept. (3) The partition panel's ``latestRunForPartition``
    is the run of the partition's newest plan, shown only when it failed, was canceled or is
    still queued or running: a superseded plan is not the newest, and a newest plan is removed
    only when every earlier plan of the partition is from a successful run, which is shown no
    differently than none at all. Every condition holds whatever other plans are removed, so one
    pass removes them all and a dry run predicts it exactly.
    """
    redundant: list[int] = []
    for partitioned in (True, False):
        candidates = _fulfilled_plans(conn, succeeded, partitioned)
        redundant += [storage_id for storage_id, superseded in candidates if superseded]
        newest = [storage_id for storage_id, superseded in candidates if not superseded]
        earlier = _earlier_plan_runs(conn, newest, partitioned)
        known = _run_statuses(instance, sorted(set().union(*earlier.values())))
        redundant += [
            storage_id
            for storage_id, run_ids in earlier.items()
            if all(known.get(run_id) == DagsterRunStatus.SUCCESS for run_id in run_ids)
        ]
    return redundant


def _recorded_check_plans(conn: Connection, run_ids: Sequence[str]) -> list[int]:
    """Planned check evaluations whose check execution Dagster recorded in
    ``asset_check_executions``: check history, summaries and partition status are read from that
    table; nothing reads the planned event back but the run's own log, where the UI hides it."""
    keys: dict[int, tuple[str, str, str]] = {}
    for storage_id, run_id, event in conn.execute(
        db.select(_table.c.id, _table.c.run_id, _table.c.event).where(
            _table.c.run_id.in_(run_ids), _table.c.dagster_event_type == _CHECK_PLANNED
        )
    ):
        data = deserialize_value(event, EventLogEntry).get_dagster_event().asset_check_planned_data
        keys[int(storage_id)] = (data.asset_key.to_string(), data.check_name, run_id)
    if not keys:
        return []
    recorded = {
        tuple(row)
        for row in conn.execute(
            db.select(_checks.c.asset_key, _checks.c.check_name, _checks.c.run_id).where(
                _checks.c.asset_key.in_(sorted({key[0] for key in keys.values()})),
                _checks.c.check_name.in_(sorted({key[1] for key in keys.values()})),
                _checks.c.run_id.in_(run_ids),
            )
        )
    }
    return [storage_id for storage_id, key in keys.items() if key in recorded]


def _remove_shard(shards: SqliteEventLogStorage, run_id: str) -> None:
    """``delete_events`` empties a run shard but leaves the file; remove it, and forget that it
    was initialized so a later read recreates its tables instead of failing."""
    for suffix in ("", "-wal", "-shm"):
        path = shards.path_for_shard(run_id) + suffix
        if os.path.exists(path):
            os.remove(path)
    forget_shard(shards, run_id)


class EventLogPruner:
    """Event-log operations over one SQL event log storage: runs whose events share one table
    (PostgreSQL, MySQL, consolidated SQLite), or the default local SQLite layout (``dagster
    dev``), where every run's events live in ``<run_id>.db`` and asset, check and run-status
    events are mirrored into ``index.db``, which the asset queries read and pruning never
    touches."""

    def __init__(self, storage: SqlEventLogStorage):
        self._storage = storage
        self._shards = storage if isinstance(storage, SqliteEventLogStorage) else None
        self._pruned_shards: list[str] = []

    def _tables(self, run_ids: Sequence[str]) -> Iterator[tuple[Connection, list[str]]]:
        """A connection to each table that holds these runs' events, with the runs it holds."""
        if self._shards is None:
            if run_ids:
                with self._storage.index_connection() as conn:
                    yield conn, list(run_ids)
            return
        for run_id in run_ids:
            if os.path.exists(self._shards.path_for_shard(run_id)):
                with self._shards.run_connection(run_id) as conn:
                    yield conn, [run_id]

    def runs_with_asset_history(self, run_ids: Sequence[str]) -> set[str]:
        """Runs that wrote at least one asset or asset-check event."""
        found: set[str] = set()
        for conn, runs in self._tables(run_ids):
            query = db.select(_table.c.run_id).where(
                _table.c.run_id.in_(runs),
                _table.c.dagster_event_type.in_(sorted(ASSET_HISTORY_EVENT_TYPES)),
            )
            found |= {row[0] for row in conn.execute(query.distinct())}
        return found

    def redundant_events(
        self, instance: DagsterInstance, run_ids: Sequence[str], succeeded: Collection[str]
    ) -> list[int]:
        """Storage ids of asset-history rows of these finished runs that Dagster no longer needs
        (see ``_redundant_plans`` and ``_recorded_check_plans``); ``succeeded`` are the ones
        among them that succeeded. None in a run shard: its asset rows are its run's log alone,
        and storage ids differ from ``index.db``'s."""
        if self._shards is not None or not run_ids:
            return []
        successful = [run_id for run_id in run_ids if run_id in succeeded]
        with self._storage.index_connection() as conn:
            plans = _redundant_plans(conn, instance, successful) if successful else []
            checks = (
                _recorded_check_plans(conn, run_ids) if self._storage.supports_asset_checks else []
            )
        return sorted(plans + checks)

    def volume(
        self, run_ids: Sequence[str], bulky_only: bool, redundant: Sequence[int] = ()
    ) -> dict[str, EventVolume]:
        """Event rows and bytes per run: all of them, or only those pruning would delete (the
        bulky ones and the ``redundant`` storage ids)."""
        result: dict[str, EventVolume] = {}
        for conn, runs in self._tables(run_ids):
            where = _bulky_rows(runs) if bulky_only else _table.c.run_id.in_(runs)
            _add_volume(conn, where, result)
            for chunk in _chunks(sorted(redundant)):
                _add_volume(conn, _table.c.id.in_(chunk), result)
        return result

    def prune(self, run_ids: Sequence[str], redundant: Sequence[int] = ()) -> None:
        """Delete every event of these runs that is neither asset history nor run status, and
        the ``redundant`` asset-history rows."""
        for conn, runs in self._tables(run_ids):
            conn.execute(_table.delete().where(_bulky_rows(runs)))
            for chunk in _chunks(sorted(redundant)):
                conn.execute(_table.delete().where(_table.c.id.in_(chunk)))
            if self._shards is not None:
                self._pruned_shards += runs

    def delete_runs(self, instance: DagsterInstance, run_ids: Sequence[str]) -> None:
        """Delete runs that wrote no asset event, with all their events. On a shared table, one
        statement per table: ``instance.delete_run`` costs several round trips per run. Such runs
        own no asset event tags and, being finished, no concurrency slots."""
        run_storage = instance.run_storage
        if self._shards is not None or not isinstance(run_storage, SqlRunStorage):
            for run_id in run_ids:
                instance.delete_run(run_id)
                if self._shards is not None:
                    _remove_shard(self._shards, run_id)
            return
        if not run_ids:
            return
        with self._storage.index_connection() as conn:
            conn.execute(_table.delete().where(_table.c.run_id.in_(run_ids)))
        with run_storage.connect() as conn:
            conn.execute(RunTagsTable.delete().where(RunTagsTable.c.run_id.in_(run_ids)))
            conn.execute(RunsTable.delete().where(RunsTable.c.run_id.in_(run_ids)))

    def reclaim_space(self, full: bool) -> None:
        """Give the deleted rows' space back: plain VACUUM makes it reusable without locking
        writers; VACUUM FULL (or SQLite's VACUUM) also returns it to the file system."""
        if self._shards is not None:
            for run_id in self._pruned_shards:
                path = self._shards.path_for_shard(run_id)
                if os.path.exists(path):
                    with sqlite3.connect(path, isolation_level=None) as conn:
                        conn.execute("VACUUM")
            self._pruned_shards.clear()
            return
        with self._storage.index_connection() as conn:
            dialect = conn.dialect.name
        statements = {
            "postgresql": f"VACUUM ({'FULL, ' if full else ''}ANALYZE) event_logs",
            "sqlite": "VACUUM",
        }
        engine = event_log_engine(self._storage) if dialect in statements else None
        if engine is not None:
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    statements[dialect]
                )


def pruner_for(storage: EventLogStorage) -> EventLogPruner:
    """The pruner for the instance's event log storage; fails clearly on one it can't prune."""
    storage = unwrap_event_log_storage(storage)
    if isinstance(storage, SqliteEventLogStorage) or (
        isinstance(storage, SqlEventLogStorage) and not storage.is_run_sharded
    ):
        return EventLogPruner(storage)
    raise TypeError(
        f"Log cleanup supports SQL event log storages (PostgreSQL, MySQL, SQLite); "
        f"this instance uses {type(storage).__name__}, which it cannot prune."
    )
