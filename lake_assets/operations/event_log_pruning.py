"""Row-level pruning of a run's event log, where Dagster has no API for it.

Dagster can only delete a run's events all at once (``delete_events``), which would also drop
the asset materializations the UI builds partition status from. These classes delete the other
rows straight from the storage's own ``event_logs`` table, using Dagster's schema objects, and
keep every row an asset or the run's status depends on. Of the asset rows, only plans that
Dagster's reads can no longer tell apart from their outcome are removed (``redundant_events``).
"""

import os
import sqlite3
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

import sqlalchemy as db
from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    EventLogEntry,
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
"""Events that make up asset history: materializations, observations, planned and failed
materializations, freshness changes, check evaluations and planned checks. The asset catalog,
partition status (materialized, failed, in progress) and check history are all read from these
rows and from the asset tables, which pruning never touches. Pruning removes none of these types
wholesale; ``redundant_events`` picks the few plans that no read can miss."""

RUN_STATUS_EVENT_TYPES: frozenset[str] = frozenset(
    event_type.value
    for event_type, status in EVENT_TYPE_TO_PIPELINE_RUN_STATUS.items()
    if status in FINISHED_STATUSES
)
"""A finished run's terminal event (success, failure or cancellation): once a run's log has
loaded, the run page takes the run's end from it (``extractMetadataFromLogs``), and without it
shows the run as still going. The other lifecycle events (enqueued, dequeued, starting, started,
canceling) go: their times are in the ``runs`` table, which the run header and the runs list
read. The one thing a pruned run's page loses with RUN_START is the time since the start on the
few log rows it keeps."""

KEPT_EVENT_TYPES: frozenset[str] = ASSET_HISTORY_EVENT_TYPES | RUN_STATUS_EVENT_TYPES

RunStatuses = Callable[[Collection[str]], Mapping[str, DagsterRunStatus]]
"""Status of each run by id; a run missing from the answer no longer exists."""

_PLANNED = DagsterEventType.ASSET_MATERIALIZATION_PLANNED.value
_MATERIALIZED = DagsterEventType.ASSET_MATERIALIZATION.value
_CHECK_PLANNED = DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED.value
_CHUNK = 500
"""Storage ids per ``IN`` list: well below SQLite's and MySQL's statement limits."""

_table = SqlEventLogStorageTable
_checks = AssetCheckExecutionsTable


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


def _chunks(items: Sequence, size: int = _CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _fulfilled_plans(
    conn: Connection, succeeded: Sequence[str], partitioned: bool
) -> list[tuple[int, bool]]:
    """Planned materializations of successful runs that the same run went on to materialize,
    other than the newest plan of their asset, with whether a later plan exists for the same
    partition: ``(storage id, superseded)``. Partitioned and unpartitioned plans are separate
    queries so each probe uses one of Dagster's asset indexes."""
    plan, done, later, newest = (_table.alias(name) for name in ("plan", "done", "later", "newest"))

    def same_partition(other: db.FromClause, event_type: str) -> db.ColumnElement[bool]:
        return db.and_(
            other.c.asset_key == plan.c.asset_key,
            other.c.dagster_event_type == event_type,
            other.c.partition == plan.c.partition if partitioned else other.c.partition.is_(None),
        )

    newest_plan = (
        db.select(db.func.max(newest.c.id))
        .where(newest.c.asset_key == plan.c.asset_key, newest.c.dagster_event_type == _PLANNED)
        .scalar_subquery()
    )
    query = db.select(
        plan.c.id,
        db.exists().where(same_partition(later, _PLANNED), later.c.id > plan.c.id),
    ).where(
        plan.c.run_id.in_(succeeded),
        plan.c.dagster_event_type == _PLANNED,
        plan.c.asset_key.isnot(None),
        plan.c.partition.isnot(None) if partitioned else plan.c.partition.is_(None),
        db.exists().where(
            same_partition(done, _MATERIALIZED),
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
    result: dict[int, set[str]] = {storage_id: set() for storage_id in storage_ids}
    for chunk in _chunks(storage_ids):
        query = (
            db.select(plan.c.id, earlier.c.run_id)
            .select_from(
                plan.join(
                    earlier,
                    db.and_(
                        earlier.c.asset_key == plan.c.asset_key,
                        earlier.c.dagster_event_type == _PLANNED,
                        earlier.c.partition == plan.c.partition
                        if partitioned
                        else earlier.c.partition.is_(None),
                        earlier.c.id < plan.c.id,
                    ),
                )
            )
            .where(plan.c.id.in_(chunk))
        )
        for storage_id, run_id in conn.execute(query):
            result[int(storage_id)].add(run_id)
    return result


def _redundant_plans(
    conn: Connection, succeeded: Sequence[str], statuses: RunStatuses
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
        runs = sorted(set().union(*earlier.values()))
        known = statuses(runs) if runs else {}
        redundant += [
            storage_id
            for storage_id, run_ids in earlier.items()
            if all(known.get(run_id) == DagsterRunStatus.SUCCESS for run_id in run_ids)
        ]
    return redundant


def _recorded_check_plans(conn: Connection, run_ids: Sequence[str]) -> list[int]:
    """Planned check evaluations whose check execution Dagster recorded in
    ``asset_check_executions``: that row keeps the planned event itself (or, once the check ran,
    its evaluation), and check history, summaries and partition status are read from the table;
    nothing reads the planned event back from the event log but the run's own log, where the UI
    filters planned events out."""
    rows = conn.execute(
        db.select(_table.c.id, _table.c.run_id, _table.c.event).where(
            _table.c.run_id.in_(run_ids), _table.c.dagster_event_type == _CHECK_PLANNED
        )
    ).fetchall()
    keys: dict[int, tuple[str, str, str]] = {}
    for storage_id, run_id, event in rows:
        planned = deserialize_value(event, EventLogEntry).get_dagster_event()
        data = planned.asset_check_planned_data
        keys[int(storage_id)] = (data.asset_key.to_string(), data.check_name, run_id)
    if not keys:
        return []
    recorded = {
        (asset_key, check_name, run_id)
        for asset_key, check_name, run_id in conn.execute(
            db.select(_checks.c.asset_key, _checks.c.check_name, _checks.c.run_id).where(
                _checks.c.asset_key.in_(sorted({key[0] for key in keys.values()})),
                _checks.c.check_name.in_(sorted({key[1] for key in keys.values()})),
                _checks.c.run_id.in_(run_ids),
            )
        )
    }
    return [storage_id for storage_id, key in keys.items() if key in recorded]


def _volume_of_ids(conn: Connection, storage_ids: Sequence[int]) -> dict[str, EventVolume]:
    result: dict[str, EventVolume] = {}
    for chunk in _chunks(sorted(storage_ids)):
        query = (
            db.select(
                _table.c.run_id,
                db.func.count(_table.c.id),
                db.func.coalesce(db.func.sum(_byte_length(conn)), 0),
            )
            .where(_table.c.id.in_(chunk))
            .group_by(_table.c.run_id)
        )
        for run_id, count, size in conn.execute(query):
            result[run_id] = result.get(run_id, EventVolume()) + EventVolume(int(count), int(size))
    return result


def _merge(*volumes: Mapping[str, EventVolume]) -> dict[str, EventVolume]:
    result: dict[str, EventVolume] = {}
    for volume in volumes:
        for run_id, amount in volume.items():
            result[run_id] = result.get(run_id, EventVolume()) + amount
    return result


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

    def redundant_events(
        self, run_ids: Sequence[str], succeeded: Collection[str], statuses: RunStatuses
    ) -> list[int]:
        """Storage ids of asset-history rows of these finished runs that Dagster no longer needs
        (see ``_redundant_plans`` and ``_recorded_check_plans``); ``succeeded`` are the ones
        among them that succeeded."""
        if not run_ids:
            return []
        successful = [run_id for run_id in run_ids if run_id in succeeded]
        with self._connection() as conn:
            plans = _redundant_plans(conn, successful, statuses) if successful else []
            checks = (
                _recorded_check_plans(conn, run_ids) if self._storage.supports_asset_checks else []
            )
        return sorted(plans + checks)

    def volume(
        self, run_ids: Sequence[str], bulky_only: bool, redundant: Sequence[int] = ()
    ) -> dict[str, EventVolume]:
        """Event rows and bytes per run: all of them, or only those pruning would delete (the
        bulky ones and the ``redundant`` storage ids)."""
        if not run_ids:
            return {}
        with self._connection() as conn:
            bulky = _volume_by_run(conn, run_ids, bulky_only)
            return _merge(bulky, _volume_of_ids(conn, redundant)) if bulky_only else bulky

    def prune(self, run_ids: Sequence[str], redundant: Sequence[int] = ()) -> None:
        """Delete every event of these runs that is neither asset history nor run status, and
        the ``redundant`` asset-history rows."""
        if not run_ids:
            return
        with self._connection() as conn:
            conn.execute(_table.delete().where(_table.c.run_id.in_(run_ids)).where(_bulky_rows()))
            for chunk in _chunks(sorted(redundant)):
                conn.execute(_table.delete().where(_table.c.id.in_(chunk)))

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
        engine = event_log_engine(self._storage)
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

    def redundant_events(
        self, run_ids: Sequence[str], succeeded: Collection[str], statuses: RunStatuses
    ) -> list[int]:
        """None: asset queries read the copies in ``index.db``, which pruning never touches, so
        a shard's asset rows are its run's log alone; storage ids also differ between the two."""
        return []

    def volume(
        self, run_ids: Sequence[str], bulky_only: bool, redundant: Sequence[int] = ()
    ) -> dict[str, EventVolume]:
        result: dict[str, EventVolume] = {}
        for run_id in run_ids:
            if not self._shard_exists(run_id):
                continue
            with self._sharded.run_connection(run_id) as conn:
                result.update(_volume_by_run(conn, [run_id], bulky_only))
        return result

    def prune(self, run_ids: Sequence[str], redundant: Sequence[int] = ()) -> None:
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
        forget_shard(self._sharded, run_id)

    def reclaim_space(self, full: bool) -> None:
        for run_id in self._pruned:
            path = self._sharded.path_for_shard(run_id)
            if os.path.exists(path):
                with sqlite3.connect(path, isolation_level=None) as conn:
                    conn.execute("VACUUM")
        self._pruned.clear()


def pruner_for(storage: EventLogStorage) -> EventLogPruner:
    """Pick the pruner for the instance's event log storage; fail clearly on one we can't prune."""
    storage = unwrap_event_log_storage(storage)
    if isinstance(storage, SqliteEventLogStorage):
        return RunShardedEventLogPruner(storage)
    if isinstance(storage, SqlEventLogStorage) and not storage.is_run_sharded:
        return EventLogPruner(storage)
    raise TypeError(
        f"Log cleanup supports SQL event log storages (PostgreSQL, MySQL, SQLite); "
        f"this instance uses {type(storage).__name__}, which it cannot prune."
    )
