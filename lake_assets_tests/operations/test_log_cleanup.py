"""The log cleanup on PostgreSQL and both SQLite layouts: asset history identical afterwards,
bulky events and compute logs gone, asset-less runs deleted, unfinished and recent runs kept."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as db
from dagster import DagsterInstance
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager

from lake_assets.operations import (
    CleanupReport,
    CleanupSettings,
    clean_up_runs,
    log_cleanup_job,
)
from lake_assets.operations.cleanup import WATERMARK_KEY
from lake_assets.operations.event_log_pruning import KEPT_EVENT_TYPES, pruner_for
from lake_assets_tests.operations.asset_history import capture
from lake_assets_tests.operations.scenario import (
    FAILING_PARTITION,
    PARTITIONS_DEFS,
    RETRIED_PARTITION,
    STUCK_PARTITIONS,
    Built,
    History,
)

PLANNED = "ASSET_MATERIALIZATION_PLANNED"
CHECK_PLANNED = "ASSET_CHECK_EVALUATION_PLANNED"

RETENTION_DAYS = 30


def _clean(instance: DagsterInstance, history: History, log=lambda _: None, **kw) -> CleanupReport:
    """A pass whose cutoff falls exactly on the scenario's boundary."""
    settings = CleanupSettings(retention_days=RETENTION_DAYS, **{"batch_size": 3, **kw})
    now = history.boundary + timedelta(days=RETENTION_DAYS)
    return clean_up_runs(instance, settings, log=log, now=now)


def _event_types(instance: DagsterInstance, run_id: str) -> list[str | None]:
    return [
        entry.dagster_event.event_type_value if entry.dagster_event else None
        for entry in instance.all_logs(run_id)
    ]


def _compute_log_dir(instance: DagsterInstance, run_id: str) -> Path:
    manager = instance.compute_log_manager
    assert isinstance(manager, LocalComputeLogManager)
    return Path(manager._base_dir) / run_id


def _event_log_bytes(instance: DagsterInstance) -> int:
    """Bytes the event log occupies on disk: the PostgreSQL database or the SQLite files."""
    storage = instance.event_log_storage
    engine = getattr(storage, "_engine", None)
    if engine is not None and engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            return conn.execute(db.text("SELECT pg_database_size(current_database())")).scalar()
    base_dir = getattr(storage, "_base_dir", None)
    assert base_dir, f"unexpected storage {type(storage).__name__}"
    return sum(path.stat().st_size for path in Path(base_dir).rglob("*.db*"))


def _event_rows(instance: DagsterInstance, run_ids: list[str]) -> int:
    return sum(len(instance.all_logs(run_id)) for run_id in run_ids)


def _plans_that_stay(history: History) -> set[str]:
    """Pruned runs whose planned materialization must survive on single-table storages: the
    newest plan of ``per_team`` (blue), the plans of failed runs, the retry after a failure and
    the run that materialized a partition a stuck run had planned before it."""
    blue, retry, after_stuck = history.asset_runs[4], history.asset_runs[6], history.asset_runs[7]
    return {blue, retry, after_stuck, *history.failed_runs}


def _delete_plan(instance: DagsterInstance, run_id: str) -> None:
    """Remove a run's planned materialization behind Dagster's back."""
    table = SqlEventLogStorageTable
    with instance.event_log_storage.index_connection() as conn:
        conn.execute(
            table.delete()
            .where(table.c.run_id == run_id)
            .where(table.c.dagster_event_type == PLANNED)
        )


def test_cleanup_keeps_asset_history_and_removes_the_rest(storage_history: Built):
    instance, history = storage_history.instance, storage_history.history
    before = capture(instance, PARTITIONS_DEFS)
    old_runs = [*history.asset_runs, *history.failed_runs, *history.no_asset_runs]
    untouched = [*history.recent_runs, *history.unfinished_runs]
    untouched_logs = {run_id: _event_types(instance, run_id) for run_id in untouched}
    rows_before = _event_rows(instance, old_runs)
    size_before = _event_log_bytes(instance)
    assert all(_compute_log_dir(instance, run_id).exists() for run_id in history.asset_runs)

    daily = before["main/team_repo"]
    # The scenario shows every kind of partition panel and status the plans decide.
    assert daily["partition_panels"][FAILING_PARTITION][0] == "failed since materialization"
    assert daily["partition_panels"][STUCK_PARTITIONS[1]][0] == "run has started"
    assert daily["partition_panels"][RETRIED_PARTITION] is None
    assert daily["partition_panels"][STUCK_PARTITIONS[0]] is None
    assert daily["status"]["failed"] == [FAILING_PARTITION]
    assert daily["status"]["in_progress"] == [STUCK_PARTITIONS[1]]

    report = _clean(instance, history, vacuum="full")

    assert before == capture(instance, PARTITIONS_DEFS)
    assert report.runs_deleted == len(history.no_asset_runs)
    assert sorted(report.deleted_run_ids) == sorted(history.no_asset_runs)
    assert report.runs_pruned == len(history.asset_runs) + len(history.failed_runs)
    assert report.batches >= 3
    for run_id in history.no_asset_runs:
        assert instance.get_run_by_id(run_id) is None
        assert instance.all_logs(run_id) == []
        assert not _compute_log_dir(instance, run_id).exists()
    sharded = isinstance(instance.event_log_storage, SqliteEventLogStorage)
    for run_id in [*history.asset_runs, *history.failed_runs]:
        assert instance.get_run_by_id(run_id) is not None
        kept = _event_types(instance, run_id)
        assert kept and set(kept) <= KEPT_EVENT_TYPES
        assert "ASSET_MATERIALIZATION" in kept or run_id in history.failed_runs
        # A run shard is only its run's log (asset queries read index.db): plans stay there.
        assert (PLANNED in kept) == (sharded or run_id in _plans_that_stay(history))
        assert CHECK_PLANNED not in kept or sharded
        assert not _compute_log_dir(instance, run_id).exists()
    for run_id, logs in untouched_logs.items():
        assert _event_types(instance, run_id) == logs
    assert all(_compute_log_dir(instance, run_id).exists() for run_id in history.recent_runs[:1])

    rows_after = _event_rows(instance, old_runs)
    assert rows_before - rows_after == report.events_removed
    assert report.event_bytes_removed > 0
    assert report.compute_log_bytes_removed > 0
    assert _event_log_bytes(instance) < size_before


def test_capture_notices_a_needed_plan_removed(single_table_history: Built):
    """The plans cleanup keeps are needed: removing any of them changes what the UI shows, and
    the before/after comparison sees it."""
    instance, history = single_table_history.instance, single_table_history.history
    _clean(instance, history)
    after = capture(instance, PARTITIONS_DEFS)

    _delete_plan(instance, history.asset_runs[6])
    retried = capture(instance, PARTITIONS_DEFS)["main/team_repo"]["partition_panels"]
    assert after["main/team_repo"]["partition_panels"][RETRIED_PARTITION] is None
    assert retried[RETRIED_PARTITION] == (
        "failed since materialization",
        history.failed_runs[1],
        "FAILURE",
    )

    _delete_plan(instance, history.asset_runs[7])
    stuck = capture(instance, PARTITIONS_DEFS)["main/team_repo"]["partition_panels"]
    assert stuck[STUCK_PARTITIONS[0]] == ("run has started", history.unfinished_runs[0], "STARTED")

    _delete_plan(instance, history.asset_runs[4])
    team = capture(instance, PARTITIONS_DEFS)["per_team"]
    assert team["planned"] != after["per_team"]["planned"]


def test_dry_run_changes_nothing_and_predicts_the_real_run(storage_history: Built):
    instance, history = storage_history.instance, storage_history.history
    before = capture(instance, PARTITIONS_DEFS)
    all_runs = [*history.asset_runs, *history.failed_runs, *history.no_asset_runs]
    rows_before = _event_rows(instance, all_runs)

    predicted = _clean(instance, history, dry_run=True)

    assert _event_rows(instance, all_runs) == rows_before
    assert all(instance.get_run_by_id(run_id) for run_id in history.no_asset_runs)
    assert instance.run_storage.get_cursor_values({WATERMARK_KEY}) == {}
    assert before == capture(instance, PARTITIONS_DEFS)
    actual = _clean(instance, history)
    assert predicted.metadata() | {"dry_run": False} == actual.metadata()
    assert predicted.events_removed > 0


def test_second_pass_starts_at_the_watermark_and_removes_nothing(storage_history: Built):
    instance, history = storage_history.instance, storage_history.history
    first = _clean(instance, history)
    watermark = instance.run_storage.get_cursor_values({WATERMARK_KEY})[WATERMARK_KEY]
    waiting = instance.get_run_record_by_id(history.unfinished_runs[0])
    assert waiting is not None
    # The oldest unstarted run holds the watermark back, so it is looked at again once it ends.
    assert watermark == waiting.create_timestamp.isoformat()

    second = _clean(instance, history)

    assert first.runs_examined > second.runs_examined
    assert (second.runs_deleted, second.runs_pruned, second.events_removed) == (0, 0, 0)


def test_run_sharded_sqlite_removes_deleted_runs_shard_files(sharded_history: Built):
    instance, history = sharded_history.instance, sharded_history.history
    storage = instance.event_log_storage
    assert isinstance(storage, SqliteEventLogStorage)
    shards = {run_id: Path(storage.path_for_shard(run_id)) for run_id in history.no_asset_runs}
    assert all(path.exists() for path in shards.values())
    _clean(instance, history)
    assert not any(path.exists() for path in shards.values())


def test_job_reports_what_it_removed_as_output_metadata(sharded_history: Built):
    instance, history = sharded_history.instance, sharded_history.history
    expected = _clean(instance, history, dry_run=True)
    result = log_cleanup_job.execute_in_process(
        instance=instance,
        run_config={
            "ops": {"clean_up_run_logs": {"config": {"retention_days": 1, "dry_run": True}}}
        },
    )
    assert result.success
    outputs = [event for event in result.all_events if event.event_type_value == "STEP_OUTPUT"]
    metadata = outputs[0].step_output_data.metadata
    # Nothing is a day old yet.
    assert metadata["runs_examined"].value == 0
    assert metadata["dry_run"].value is True
    assert expected.runs_examined > 0
    logs = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any("log cleanup would remove" in message for message in logs)


def test_progress_is_logged_per_batch(sharded_history: Built):
    instance, history = sharded_history.instance, sharded_history.history
    messages: list[str] = []
    report = _clean(instance, history, log=messages.append, batch_size=2)
    batch_lines = [message for message in messages if message.startswith("batch ")]
    assert len(batch_lines) == report.batches >= 4
    assert f"{report.runs_deleted} deleted" in batch_lines[-1]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("retention_days", 0, r"retention_days\s+Input should be greater than or equal to 1"),
        ("batch_size", 0, r"batch_size\s+Input should be greater than or equal to 1"),
        ("vacuum", "sometimes", r"vacuum\s+Input should be 'none', 'plain' or 'full'"),
    ],
)
def test_bad_settings_name_the_problem(field: str, value: object, message: str):
    with pytest.raises(ValueError, match=message):
        CleanupSettings(**{field: value})


def test_unsupported_storage_is_refused_with_its_name():
    class NotSql:
        pass

    with pytest.raises(TypeError, match="NotSql"):
        pruner_for(NotSql())  # type: ignore[arg-type]


def test_only_kept_event_types_survive_in_the_table(sharded_history: Built):
    """Straight from the table: a pruned run keeps no engine, step or log row."""
    instance, history = sharded_history.instance, sharded_history.history
    _clean(instance, history)
    storage = instance.event_log_storage
    assert isinstance(storage, SqliteEventLogStorage)
    run_id = history.asset_runs[0]
    with storage.run_connection(run_id) as conn:
        types = {
            row[0] for row in conn.execute(db.select(SqlEventLogStorageTable.c.dagster_event_type))
        }
    assert None not in types
    assert types <= KEPT_EVENT_TYPES
    assert os.path.getsize(storage.path_for_shard(run_id)) > 0
