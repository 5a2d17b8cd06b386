"""Retention for run and event logs that keeps every asset's history.

Finished runs older than the retention period lose their compute logs and every event but those
asset history and the run's status are read from (see ``event_log_pruning``), so assets and
partitions look exactly the same afterwards. Finished runs that wrote no asset event are deleted
whole. Queued and in-progress runs are never touched.
"""

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Literal

from dagster import Config, DagsterInstance, DagsterRunStatus, RunRecord, RunsFilter
from pydantic import Field

from lake_assets.dagster_layer.internals import FINISHED_STATUSES, local_compute_log_dir
from lake_assets.operations.event_log_pruning import EventLogPruner, EventVolume, pruner_for

WATERMARK_KEY = "lake_assets/log_cleanup/watermark"
"""Instance key-value entry: runs created before this time are all finished and cleaned, so the
next pass starts there instead of rescanning the whole run history."""


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
    """What a pass (or one batch of it) removed, or in a dry run would remove."""

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
        values = asdict(self) | {"cutoff": self.cutoff.isoformat()}
        del values["deleted_run_ids"]
        return values

    def add(self, batch: "CleanupReport") -> None:
        for counter in fields(self):
            if counter.type is int:
                setattr(
                    self, counter.name, getattr(self, counter.name) + getattr(batch, counter.name)
                )
        self.deleted_run_ids += batch.deleted_run_ids


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


def _compute_log_bytes(instance: DagsterInstance, run_id: str) -> int:
    """Bytes of a run's captured stdout/stderr where they are local files; remote managers
    (S3, GCS) are cleaned through the same API but their size is not listed."""
    base_dir = local_compute_log_dir(instance.compute_log_manager)
    if base_dir is None:
        return 0
    return sum(
        os.path.getsize(os.path.join(directory, name))
        for directory, _, files in os.walk(os.path.join(base_dir, run_id))
        for name in files
    )


def _oldest_blocker(
    instance: DagsterInstance, cutoff: datetime, after: datetime | None
) -> datetime | None:
    """Creation time of the oldest run before the cutoff that is still queued or running."""
    unfinished = [status for status in DagsterRunStatus if status not in FINISHED_STATUSES]
    records = instance.get_run_records(
        filters=RunsFilter(statuses=unfinished, created_before=cutoff, created_after=after),
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
    pruner = pruner_for(instance.event_log_storage)
    cutoff = (now or datetime.now(UTC)) - timedelta(days=settings.retention_days)
    watermark = None
    if not settings.full_scan:
        watermark = instance.run_storage.get_cursor_values({WATERMARK_KEY}).get(WATERMARK_KEY)
    # One second of overlap: creation timestamps of neighbouring runs can tie.
    scan_from = datetime.fromisoformat(watermark) - timedelta(seconds=1) if watermark else None
    report = CleanupReport(dry_run=settings.dry_run, cutoff=cutoff)
    oldest_skipped = cutoff

    filters = RunsFilter(statuses=FINISHED_STATUSES, created_before=cutoff, created_after=scan_from)
    for page in _pages(instance, filters, settings.batch_size):
        due: list[str] = []
        succeeded: set[str] = set()
        for record in page:
            ended = record.end_time or record.update_timestamp.timestamp()
            if ended < cutoff.timestamp():
                due.append(record.dagster_run.run_id)
                if record.dagster_run.status == DagsterRunStatus.SUCCESS:
                    succeeded.add(record.dagster_run.run_id)
            else:
                oldest_skipped = min(oldest_skipped, record.create_timestamp)
        batch = _clean_batch(instance, pruner, due, succeeded, report)
        batch.runs_examined = len(page)
        report.add(batch)
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
        blocker = _oldest_blocker(instance, cutoff, scan_from) or cutoff
        new_watermark = min(blocker, oldest_skipped)
        instance.run_storage.set_cursor_values({WATERMARK_KEY: new_watermark.isoformat()})
    return report


def _clean_batch(
    instance: DagsterInstance,
    pruner: EventLogPruner,
    run_ids: list[str],
    succeeded: set[str],
    report: CleanupReport,
) -> CleanupReport:
    """Clean these due runs; the batch's report, counted as one batch."""
    keep = pruner.runs_with_asset_history(run_ids)
    whole = [run_id for run_id in run_ids if run_id not in keep]
    history = [run_id for run_id in run_ids if run_id in keep]
    redundant = pruner.redundant_events(instance, history, succeeded)
    # Runs kept from an earlier pass have nothing left to prune and are not counted again.
    bulky = pruner.volume(history, bulky_only=True, redundant=redundant)
    pruned = [run_id for run_id in run_ids if run_id in bulky]
    removed = sum(
        [*pruner.volume(whole, bulky_only=False).values(), *bulky.values()], EventVolume()
    )
    cleaned = [*whole, *pruned]
    log_bytes = sum(_compute_log_bytes(instance, run_id) for run_id in cleaned)

    if not report.dry_run:
        pruner.delete_runs(instance, whole)
        pruner.prune(pruned, redundant=redundant)
        for run_id in cleaned:
            instance.compute_log_manager.delete_logs(prefix=[run_id])

    return CleanupReport(
        dry_run=report.dry_run,
        cutoff=report.cutoff,
        runs_deleted=len(whole),
        runs_pruned=len(pruned),
        events_removed=removed.events,
        event_bytes_removed=removed.bytes,
        compute_log_bytes_removed=log_bytes,
        batches=1,
        deleted_run_ids=whole,
    )
