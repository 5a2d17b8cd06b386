"""Per-run Kubernetes sizing through the ``dagster-k8s/config`` run tag.

GKE Autopilot schedules and bills by requests and raises limits to match them, so every size here
sets requests equal to limits, with CPU, memory and ephemeral storage inside Autopilot's bounds
(at least 250m CPU and 512Mi, 1 to 6.5 GiB of memory per vCPU, at most 10Gi of ephemeral
storage). The default size lives in ``helm/values.yaml`` (runLauncher runK8sConfig); these tags
override it for heavy assets and backfills.
"""

import json
from typing import Any

K8S_CONFIG_TAG = "dagster-k8s/config"

SPOT_NODE_SELECTOR = {"cloud.google.com/gke-spot": "true"}
"""Autopilot places a pod on Spot capacity when it selects this label."""

SPOT_TERMINATION_GRACE_SECONDS = 25
"""Spot nodes give at most 30 s notice; Autopilot caps Spot pods' grace period at 25 s."""

STANDARD_SIZE = {"cpu": "500m", "memory": "2Gi", "ephemeral-storage": "2Gi"}
BACKFILL_SIZE = {"cpu": "1", "memory": "4Gi", "ephemeral-storage": "4Gi"}
HEAVY_SIZE = {"cpu": "2", "memory": "8Gi", "ephemeral-storage": "8Gi"}


def k8s_config_tags(
    heavy: bool = False, backfill: bool = False, spot: bool = False
) -> dict[str, str]:
    """Run tags that size the run's Kubernetes pod (heavy beats backfill beats standard): put
    them on a job (``tags=``), a ``RunRequest`` or a backfill. ``spot`` opts a backfill into
    Spot pods."""
    if spot and not backfill:
        raise ValueError(
            "spot=True is only for backfill runs: Spot pods can be reclaimed at 30 s notice, "
            "which a backfill retries cheaply but a sensor-triggered run should not risk"
        )
    size = HEAVY_SIZE if heavy else BACKFILL_SIZE if backfill else STANDARD_SIZE
    config: dict[str, Any] = {"container_config": {"resources": {"requests": size, "limits": size}}}
    if spot:
        config["pod_spec_config"] = {
            "node_selector": SPOT_NODE_SELECTOR,
            "termination_grace_period_seconds": SPOT_TERMINATION_GRACE_SECONDS,
        }
    return {K8S_CONFIG_TAG: json.dumps(config)}
