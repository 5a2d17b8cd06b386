"""Launch runs through dagster-k8s's real ``K8sRunLauncher``, configured from helm/values.yaml the
way the chart's templates configure it, and catch the Kubernetes Job it would create."""

from pathlib import Path
from typing import Any

import kubernetes
from dagster import DagsterInstance, DagsterRun
from dagster._core.code_pointer import ModuleCodePointer
from dagster._core.launcher import LaunchRunContext
from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin
from dagster._core.test_utils import create_run_for_test
from dagster_k8s import K8sRunLauncher

from lake_assets_tests.operations.helm_values import merged_values

RELEASE = "dagster"
NAMESPACE = "dagster"
IMAGE = "europe-west1-docker.pkg.dev/example/lake/lake-assets:0.1.0"

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


def code_location_container_context() -> dict[str, Any]:
    """What the user-deployments subchart hands to runs with includeConfigInLaunchedRuns: the
    deployment's image pull policy, env secrets, resources and pod security context."""
    (deployment,) = merged_values()["dagster-user-deployments"]["deployments"]
    return {
        "k8s": {
            "namespace": NAMESPACE,
            "image_pull_policy": deployment["image"]["pullPolicy"],
            "env_secrets": _names(deployment.get("envSecrets", [])),
            "resources": deployment.get("resources") or {},
            "run_k8s_config": {
                "pod_spec_config": {"security_context": deployment.get("podSecurityContext", {})}
            },
        }
    }


def create_run(instance: DagsterInstance, job_name: str, tags: dict[str, str]) -> DagsterRun:
    origin = JobPythonOrigin(
        job_name=job_name,
        repository_origin=RepositoryPythonOrigin(
            executable_path="/usr/local/bin/python",
            code_pointer=ModuleCodePointer("lake_assets.definitions", "defs", None),
            container_image=IMAGE,
            container_context=code_location_container_context(),
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
