"""Launch runs through dagster-k8s's real ``K8sRunLauncher``, configured from helm/values.yaml the
way the chart's templates configure it, for a code location deployed by helm/locations/, and
catch the Kubernetes Job it would create."""

from pathlib import Path
from typing import Any

import kubernetes
import yaml
from dagster import DagsterInstance, DagsterRun
from dagster._core.code_pointer import ModuleCodePointer
from dagster._core.launcher import LaunchRunContext
from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin
from dagster._core.test_utils import create_run_for_test
from dagster_k8s import K8sRunLauncher

from lake_assets_tests.operations.helm_values import (
    LOCATIONS,
    SUBCHART,
    location_deployment,
    merged_location_values,
    merged_values,
    served_module,
)

RELEASE = "dagster"
NAMESPACE = "dagster"
LAKE_LOCATION = LOCATIONS / "lake-assets.yaml"

_RUN_K8S_KEYS = {
    "containerConfig": "container_config",
    "podTemplateSpecMetadata": "pod_template_spec_metadata",
    "podSpecConfig": "pod_spec_config",
    "jobSpecConfig": "job_spec_config",
    "jobMetadata": "job_metadata",
}

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: offline, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: offline, user: {token: offline}}]
contexts: [{name: offline, context: {cluster: offline, user: offline}}]
current-context: offline
"""


class RecordingBatchApi:
    """Stands in for the cluster: keeps the Job instead of sending it."""

    def __init__(self) -> None:
        self.jobs: list[kubernetes.client.V1Job] = []

    def create_namespaced_job(self, body: kubernetes.client.V1Job, namespace: str, **_: Any):
        self.jobs.append(body)
        return body


def _names(sources: list[dict[str, str]]) -> list[str]:
    return [source["name"] for source in sources]


def launcher_from_values(kubeconfig: Path, batch_api: RecordingBatchApi) -> K8sRunLauncher:
    """The run launcher as the chart's instance ConfigMap renders it from our values."""
    values = merged_values()
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    run_k8s_config = {
        _RUN_K8S_KEYS[key]: value for key, value in (launcher.get("runK8sConfig") or {}).items()
    }
    return K8sRunLauncher(
        service_account_name=f"{RELEASE}-dagster",
        instance_config_map=f"{RELEASE}-dagster-instance",
        postgres_password_secret=values["global"]["postgresqlSecretName"],
        dagster_home=values["global"]["dagsterHome"],
        image_pull_policy=launcher["imagePullPolicy"],
        load_incluster_config=False,
        kubeconfig_file=str(kubeconfig),
        job_namespace=launcher.get("jobNamespace") or NAMESPACE,
        env_config_maps=[f"{RELEASE}-dagster-pipeline-env", *_names(launcher["envConfigMaps"])],
        env_secrets=_names(launcher["envSecrets"]),
        env_vars=launcher["envVars"],
        volume_mounts=launcher["volumeMounts"],
        volumes=launcher["volumes"],
        labels=launcher.get("labels") or {},
        fail_pod_on_run_failure=launcher.get("failPodOnRunFailure"),
        resources=launcher.get("resources") or {},
        run_k8s_config=run_k8s_config,
        k8s_client_batch_api=batch_api,
    )


def release_fullname(release: str) -> str:
    """The chart's `dagster.fullname` of a user-deployments release."""
    name = release if SUBCHART in release else f"{release}-{SUBCHART}"
    return name[:63].rstrip("-")


def location_image(location: Path) -> str:
    """DAGSTER_CURRENT_IMAGE of the location's code server: the image its runs launch from."""
    image = location_deployment(location)["image"]
    return f"{image['repository']}:{image['tag']}"


def code_location_container_context(location: Path) -> dict[str, Any]:
    """What a location's release hands to its runs with includeConfigInLaunchedRuns, as the
    chart's `dagsterUserDeployments.k8sContainerContext` renders it (installed as the release
    named after its deployment): pull policy, the deployment's env config map and secrets,
    resources, its env list, and the release's namespace and service account."""
    values = merged_location_values(yaml.safe_load(location.read_text()))
    (deployment,) = values["deployments"]
    fullname = release_fullname(deployment["name"])
    service_account = (
        values["global"].get("serviceAccountName")
        or values["serviceAccount"].get("name")
        or f"{fullname}-user-deployments"
    )
    context: dict[str, Any] = {
        "image_pull_policy": deployment["image"]["pullPolicy"],
        "env_config_maps": [
            f"{fullname}-{deployment['name']}-user-env",
            *_names(deployment.get("envConfigMaps", [])),
        ],
        "env_secrets": _names(deployment.get("envSecrets", [])),
        "namespace": NAMESPACE,
        "service_account_name": service_account,
    }
    for key, ours in (("volumeMounts", "volume_mounts"), ("volumes", "volumes")):
        if deployment.get(key):
            context[ours] = deployment[key]
    for key in ("labels", "resources"):
        if deployment.get(key):
            context[key] = deployment[key]
    if isinstance(deployment.get("env"), list):
        context["env"] = deployment["env"]
    return {"k8s": context}


def create_run(
    instance: DagsterInstance,
    job_name: str,
    tags: dict[str, str],
    location: Path = LAKE_LOCATION,
) -> DagsterRun:
    """A run of `job_name` queued from `location`'s code server."""
    module = served_module(location_deployment(location))
    origin = JobPythonOrigin(
        job_name=job_name,
        repository_origin=RepositoryPythonOrigin(
            executable_path="/usr/local/bin/python",
            code_pointer=ModuleCodePointer(module, "defs", None),
            container_image=location_image(location),
            container_context=code_location_container_context(location),
        ),
    )
    return create_run_for_test(instance, job_name=job_name, tags=tags, job_code_origin=origin)


def launch(
    instance: DagsterInstance,
    launcher: K8sRunLauncher,
    batch_api: RecordingBatchApi,
    run: DagsterRun,
) -> dict[str, Any]:
    """The Job manifest (camelCase, as sent to the API server) for one run."""
    launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
    job = batch_api.jobs[-1]
    return kubernetes.client.ApiClient().sanitize_for_serialization(job)
