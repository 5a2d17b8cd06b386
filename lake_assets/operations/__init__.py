"""Operations of the deployment: log retention and per-run Kubernetes sizing."""

from lake_assets.operations.cleanup import CleanupReport, CleanupSettings, clean_up_runs
from lake_assets.operations.jobs import log_cleanup_job, log_cleanup_schedule
from lake_assets.operations.k8s_tags import K8S_CONFIG_TAG, k8s_config_tags

OPERATIONS_JOBS = [log_cleanup_job]
OPERATIONS_SCHEDULES = [log_cleanup_schedule]

__all__ = [
    "K8S_CONFIG_TAG",
    "OPERATIONS_JOBS",
    "OPERATIONS_SCHEDULES",
    "CleanupReport",
    "CleanupSettings",
    "clean_up_runs",
    "k8s_config_tags",
    "log_cleanup_job",
    "log_cleanup_schedule",
]
