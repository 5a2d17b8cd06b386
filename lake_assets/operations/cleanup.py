"""Retention for run and event logs that keeps every asset's history.

Finished runs older than the retention period lose their bulky events (engine, step and log
messages) and their compute logs; their asset materializations, observations, failed
materializations, check evaluations and the run's terminal event stay, so partition status and the
latest materialization metadata look exactly the same afterwards. Plans are kept too, except
those Dagster can no longer tell from their outcome: a successful run's planned materialization
of a partition it then materialized (never the asset's newest plan, nor one that would make an
older failed or unfinished plan the partition's newest), and planned checks whose execution
is recorded in ``asset_check_executions``. Finished runs that wrote no asset event are deleted
whole. Queued and in-progress runs are never touched.
"""

import os
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from dagster import Config, DagsterInstance, DagsterRunStatus, RunRecord, RunsFilter
from pydantic import Field

from lake_assets.dagster_layer.internals import FINISHED_STATUSES, local_compute_log_dir
from lake_assets.operations.event_log_pruning import (
    EventLogPruner,
    EventVolume,
    RunStatuses,
    pruner_for,
)

WATERMARK_KEY = "lake_assets/log_cleanup/watermark"
"""Instance key-value entry: runs created before this time are all finished and cleaned, so the
next pass starts there instead of rescanning the whole run history."""

UNFINISHED_STATUSES: list[DagsterRunStatus] = [
    status for status in DagsterRunStatus if status not in FINISHED_STATUSES
]


class CleanupSettings(Config):
    """What to clean and how: the log-cleanup job's run config (defaults are the production
    settings)."""

    retention_days: int = Field(default=30, ge=1, description="Keep full logs this many days.")
    batch_size: int = Field(default=500, ge=1, description="Runs handled per batch.")
    dry_run: bool = Field(default=False, description="Only report what would be removed.")
    vacuum: Literal["none", "plain", "full"] = Field(
        default="plain",
        description=(
            "After deleting: 'plain' VACUUM makes the space reusable without blocking writers; "
            "'full' also returns it to the file system but locks event_logs while it runs."
        ),
    )
    full_scan: bool = Field(
        default=False, description="Rescan all run history instead of starting at the watermark."
    )


@dataclass
class CleanupReport:
    """What a pass removed (or, in a dry run, would remove)."""

    dry_run: bool
    cutoff: datetime
    runs_examined: int = 0
    runs_deleted: int = 0
    runs_pruned: int = 0
    events_removed: int = 0
    event_bytes_removed: int = 0
    compute_log_bytes_removed: int = 0
    batches: int = 0
    deleted_run_ids: list[str] = field(default_factory=list)

    def metadata(self) -> dict[str, int | float | str | bool]:
        return {
            "dry_run": self.dry_run,
            "cutoff": self.cutoff.isoformat(),
            "runs_examined": self.runs_examined,
            "runs_deleted": self.runs_deleted,
            "runs_pruned": self.runs_pruned,
            "events_removed": self.events_removed,
            "event_bytes_removed": self.event_bytes_removed,
            "compute_log_bytes_removed": self.compute_log_bytes_removed,
            "batches": self.batches,
        }


def _pages(
    instance: DagsterInstance, filters: RunsFilter, size: int
) -> Iterator[Sequence[RunRecord]]:
    """Run records in storage order, one page ahead: the next page is read (by the cursor of the
    current page's last run) before the current page is handed out, because handling a page
    may delete that very run."""
    page = instance.get_run_records(filters=filters, limit=size, ascending=True)
    while page:
        following = (
            instance.get_run_records(
                filters=filters, limit=size, ascending=True, cursor=page[-1].dagster_run.run_id
            )
            if len(page) == size
            else []
        )
        yield page
        page = following


def _ended_at(record: RunRecord) -> float:
    if record.end_time is not None:
        return record.end_time
    return record.update_timestamp.timestamp()


def _compute_log_bytes(instance: DagsterInstance, run_id: str) -> int:
    """Bytes of a run's captured stdout/stderr where they are local files; remote managers
    (S3, GCS) are cleaned through the same API but their size is not listed."""
    base_dir = local_compute_log_dir(instance.compute_log_manager)
    if base_dir is None:
        return 0
    root = os.path.join(base_dir, run_id)
    total = 0
    for directory, _, files in os.walk(root):
        total += sum(os.path.getsize(os.path.join(directory, name)) for name in files)
    return total


def _statuses(instance: DagsterInstance) -> RunStatuses:
    """Run status lookup for the pruner, in pages of ``RunsFilter(run_ids=...)``."""

    def lookup(run_ids: Collection[str]) -> Mapping[str, DagsterRunStatus]:
        ids = sorted(run_ids)
        found: dict[str, DagsterRunStatus] = {}
        for start in range(0, len(ids), 500):
            records = instance.get_run_records(filters=RunsFilter(run_ids=ids[start : start + 500]))
            found.update(
                {record.dagster_run.run_id: record.dagster_run.status for record in records}
            )
        return found

    return lookup


def _read_watermark(instance: DagsterInstance) -> datetime | None:
    value = instance.run_storage.get_cursor_values({WATERMARK_KEY}).get(WATERMARK_KEY)
    return datetime.fromisoformat(value) if value else None


def _oldest_blocker(
    instance: DagsterInstance, cutoff: datetime, after: datetime | None
) -> datetime | None:
    """Creation time of the oldest run before the cutoff that is still queued or running."""
    records = instance.get_run_records(
        filters=RunsFilter(
            statuses=UNFINISHED_STATUSES, created_before=cutoff, created_after=after
        ),
        limit=1,
        ascending=True,
    )
    return records[0].create_timestamp if records else None


def clean_up_runs(
    instance: DagsterInstance,
    settings: CleanupSettings,
    log: Callable[[str], None] = lambda _message: None,
    now: datetime | None = None,
) -> CleanupReport:
    """One retention pass over the instance, in batches of ``settings.batch_size`` runs;
    ``now`` is injectable so tests can age runs without waiting."""
    pruner: EventLogPruner = pruner_for(instance.event_log_storage)
    cutoff = (now or datetime.now(UTC)) - timedelta(days=settings.retention_days)
    watermark = None if settings.full_scan else _read_watermark(instance)
    # One second of overlap: creation timestamps of neighbouring runs can tie.
    scan_from = watermark - timedelta(seconds=1) if watermark else None
    report = CleanupReport(dry_run=settings.dry_run, cutoff=cutoff)
    oldest_skipped: datetime | None = None

    filters = RunsFilter(statuses=FINISHED_STATUSES, created_before=cutoff, created_after=scan_from)
    for page in _pages(instance, filters, settings.batch_size):
        due: list[str] = []
        succeeded: set[str] = set()
        for record in page:
            if _ended_at(record) < cutoff.timestamp():
                due.append(record.dagster_run.run_id)
                if record.dagster_run.status == DagsterRunStatus.SUCCESS:
                    succeeded.add(record.dagster_run.run_id)
            elif oldest_skipped is None or record.create_timestamp < oldest_skipped:
                oldest_skipped = record.create_timestamp
        batch = _clean_batch(instance, pruner, due, succeeded, settings.dry_run)
        report = _add(report, batch, examined=len(page))
        log(
            f"batch {report.batches}: examined {len(page)} runs, deleted {batch.runs_deleted}, "
            f"pruned {batch.runs_pruned}, removed {batch.events_removed} events "
            f"({batch.event_bytes_removed} bytes); totals: {report.runs_examined} examined, "
            f"{report.runs_deleted} deleted, {report.runs_pruned} pruned, "
            f"{report.events_removed} events, {report.event_bytes_removed} bytes"
        )

    if not report.batches:
        log(f"no finished run older than {cutoff.isoformat()} to clean")
    if not settings.dry_run:
        if settings.vacuum != "none" and (report.events_removed or report.runs_deleted):
            log(f"reclaiming space ({settings.vacuum} vacuum)")
            pruner.reclaim_space(full=settings.vacuum == "full")
        candidates = [
            moment
            for moment in (_oldest_blocker(instance, cutoff, scan_from), oldest_skipped)
            if moment is not None
        ]
        new_watermark = min([*candidates, cutoff])
        instance.run_storage.set_cursor_values({WATERMARK_KEY: new_watermark.isoformat()})
    return report


def _add(report: CleanupReport, batch: CleanupReport, examined: int) -> CleanupReport:
    return replace(
        report,
        runs_examined=report.runs_examined + examined,
        runs_deleted=report.runs_deleted + batch.runs_deleted,
        runs_pruned=report.runs_pruned + batch.runs_pruned,
        events_removed=report.events_removed + batch.events_removed,
        event_bytes_removed=report.event_bytes_removed + batch.event_bytes_removed,
        compute_log_bytes_removed=report.compute_log_bytes_removed
        + batch.compute_log_bytes_removed,
        batches=report.batches + 1,
        deleted_run_ids=[*report.deleted_run_ids, *batch.deleted_run_ids],
    )


def _clean_batch(
    instance: DagsterInstance,
    pruner: EventLogPruner,
    run_ids: list[str],
    succeeded: Collection[str],
    dry_run: bool,
) -> CleanupReport:
    keep = pruner.runs_with_asset_history(run_ids)
    whole = [run_id for run_id in run_ids if run_id not in keep]
    history = [run_id for run_id in run_ids if run_id in keep]
    redundant = pruner.redundant_events(history, succeeded, _statuses(instance))
    # Runs kept from an earlier pass have nothing left to prune and are not counted again.
    bulky = pruner.volume(history, bulky_only=True, redundant=redundant)
    pruned = [run_id for run_id in run_ids if run_id in bulky]
    removed = sum(pruner.volume(whole, bulky_only=False).values(), EventVolume())
    removed += sum(bulky.values(), EventVolume())
    cleaned = [*whole, *pruned]
    log_bytes = sum(_compute_log_bytes(instance, run_id) for run_id in cleaned)

    if not dry_run:
        pruner.delete_runs(instance, whole)
        pruner.prune(pruned, redundant=redundant)
        for run_id in cleaned:
            instance.compute_log_manager.delete_logs(prefix=[run_id])

    return CleanupReport(
        dry_run=dry_run,
        cutoff=datetime.now(UTC),
        runs_deleted=len(whole),
        runs_pruned=len(pruned),
        events_removed=removed.events,
        event_bytes_removed=removed.bytes,
        compute_log_bytes_removed=log_bytes,
        deleted_run_ids=whole,
    )
