"""helm/values.yaml merged over the chart's defaults validates against the chart's schemas and
carries the production settings the deployment depends on."""

import pytest
from jsonschema import Draft202012Validator

from lake_assets_tests.operations.helm_values import (
    CHART_DIR,
    chart_schema,
    merged_subchart_values,
    merged_values,
    our_values,
    schema_registry,
    subchart_schema,
)

AUTOPILOT_MIN_CPU_MILLI = 250


def _errors(schema: dict, values: dict) -> list[str]:
    validator = Draft202012Validator(schema, registry=schema_registry())
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(values)
    ]


def test_chart_files_are_present():
    assert (CHART_DIR / "values.schema.json").is_file(), f"missing chart schema in {CHART_DIR}"


def test_merged_values_validate_against_the_chart_schema():
    assert _errors(chart_schema(), merged_values()) == []


def test_merged_values_validate_against_the_user_deployments_schema():
    assert _errors(subchart_schema(), merged_subchart_values()) == []


def test_validation_catches_a_bad_value():
    """The registry really resolves the Kubernetes refs: a bad resources block is rejected."""
    values = merged_values()
    values["dagsterWebserver"]["resources"] = {"requests": {"cpu": ["not", "a", "quantity"]}}
    values["postgresql"]["enabled"] = "no"
    errors = _errors(chart_schema(), values)
    assert any(error.startswith("dagsterWebserver/resources") for error in errors), errors
    assert any(error.startswith("postgresql/enabled") for error in errors), errors


def test_external_postgres_through_a_secret_with_psycopg2():
    values = merged_values()
    assert values["postgresql"]["enabled"] is False
    assert values["postgresql"]["postgresqlScheme"] == "postgresql+psycopg2"
    assert values["postgresql"]["postgresqlHost"]
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"] == "dagster-postgresql-secret"


def test_code_location_is_the_only_user_deployment():
    deployments = merged_values()["dagster-user-deployments"]["deployments"]
    assert [deployment["name"] for deployment in deployments] == ["lake-assets"]
    (deployment,) = deployments
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "lake_assets.definitions"]
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}
    assert {"name": "lake-assets-env"} in deployment["envSecrets"]


def test_daemon_queues_monitors_and_retries_runs():
    daemon = merged_values()["dagsterDaemon"]
    coordinator = daemon["runCoordinator"]
    assert coordinator["enabled"] and coordinator["type"] == "QueuedRunCoordinator"
    assert coordinator["config"]["queuedRunCoordinator"]["maxConcurrentRuns"] > 0
    assert daemon["runMonitoring"]["enabled"] is True
    assert daemon["runMonitoring"]["startTimeoutSeconds"] >= 600
    assert daemon["runRetries"]["enabled"] is True
    assert daemon["runRetries"]["maxRetries"] >= 1


def test_tick_retention_is_enabled():
    retention = merged_values()["retention"]
    assert retention["enabled"] is True
    assert retention["schedule"]["purgeAfterDays"] > 0
    assert all(days > 0 for days in retention["sensor"]["purgeAfterDays"].values())


def test_run_pods_get_secrets_annotation_and_ttl():
    launcher = merged_values()["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    config = launcher["config"]["k8sRunLauncher"]
    assert {"name": "lake-assets-env"} in config["envSecrets"]
    run_k8s = config["runK8sConfig"]
    annotations = run_k8s["podTemplateSpecMetadata"]["annotations"]
    assert annotations["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"
    assert run_k8s["jobSpecConfig"]["ttlSecondsAfterFinished"] > 0


def _service_containers() -> dict[str, dict]:
    values = our_values()
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    return {
        "webserver": values["dagsterWebserver"]["resources"],
        "webserver init": values["dagsterWebserver"]["initContainerResources"],
        "daemon": values["dagsterDaemon"]["resources"],
        "daemon init": values["dagsterDaemon"]["initContainerResources"],
        "user deployment": deployment["resources"],
        "run pods": values["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"][
            "containerConfig"
        ]["resources"],
    }


@pytest.mark.parametrize("container", sorted(_service_containers()))
def test_every_container_requests_what_it_limits(container: str):
    resources = _service_containers()[container]
    assert resources["requests"] == resources["limits"]
    assert set(resources["requests"]) == {"cpu", "memory", "ephemeral-storage"}
