"""When the maintenance jobs run."""

import dagster as dg

from lake_assets.operations.jobs import log_cleanup_job

log_cleanup_schedule = dg.ScheduleDefinition(
    name="log_cleanup_daily",
    job=log_cleanup_job,
    cron_schedule="17 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Nightly, outside working hours, when few runs write to the event log.",
)
