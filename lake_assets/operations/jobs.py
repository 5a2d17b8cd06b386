"""The log-cleanup job: one op that runs a retention pass and reports it."""

from typing import Literal

import dagster as dg
from pydantic import Field

from lake_assets.operations.cleanup import CleanupSettings, clean_up_runs

OPERATION_TAG = "lake_assets/operation"
"""Run tag of maintenance runs; the Helm values limit runs with it to one at a time."""


class LogCleanupConfig(dg.Config):
    """Run config of the log cleanup (defaults are the production settings)."""

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


@dg.op(out=dg.Out(dg.Nothing))
def clean_up_run_logs(context: dg.OpExecutionContext, config: LogCleanupConfig):
    """Prune old runs' bulky events and compute logs, keeping all asset history."""
    settings = CleanupSettings(
        retention_days=config.retention_days,
        batch_size=config.batch_size,
        dry_run=config.dry_run,
        vacuum=config.vacuum,
        full_scan=config.full_scan,
    )
    report = clean_up_runs(context.instance, settings, log=context.log.info)
    verb = "would remove" if report.dry_run else "removed"
    context.log.info(
        f"log cleanup {verb}: {report.runs_deleted} runs deleted whole, "
        f"{report.runs_pruned} runs pruned, {report.events_removed} events, "
        f"{report.event_bytes_removed} event bytes, "
        f"{report.compute_log_bytes_removed} compute-log bytes"
    )
    yield dg.Output(None, metadata=report.metadata())


log_cleanup_job = dg.JobDefinition(
    graph_def=dg.GraphDefinition(
        name="log_cleanup",
        node_defs=[clean_up_run_logs],
        description="Daily retention of run and event logs that keeps every asset's history.",
    ),
    name="log_cleanup",
    executor_def=dg.in_process_executor,
    tags={OPERATION_TAG: "log_cleanup"},
)
