"""The log-cleanup job, one op that runs a retention pass and reports it, and its schedule."""

import dagster as dg

from lake_assets.operations.cleanup import CleanupSettings, clean_up_runs

OPERATION_TAG = "lake_assets/operation"
"""Run tag of maintenance runs; the Helm values limit runs with it to one at a time."""


@dg.op(out=dg.Out(dg.Nothing))
def clean_up_run_logs(context: dg.OpExecutionContext, config: CleanupSettings):
    """Prune old runs' bulky events and compute logs, keeping all asset history."""
    report = clean_up_runs(context.instance, config, log=context.log.info)
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

log_cleanup_schedule = dg.ScheduleDefinition(
    name="log_cleanup_daily",
    job=log_cleanup_job,
    cron_schedule="17 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Nightly, outside working hours, when few runs write to the event log.",
)
