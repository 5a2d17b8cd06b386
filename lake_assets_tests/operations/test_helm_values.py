"""helm/values.yaml (the platform) and helm/locations/ (one release per code location) merged
over the charts' defaults validate against the charts' schemas, carry the production settings the
deployment depends on, and agree with each other and with the local workspaces."""

from pathlib import Path

import pytest
import yaml

from lake_assets_tests.operations.helm_values import (
    CHART_DIR,
    REPO_ROOT,
    SUBCHART,
    chart_schema,
    location_deployment,
    location_deployments,
    location_files,
    merged_location_values,
    merged_values,
    our_values,
    schema_errors,
    served_module,
    subchart_schema,
)

AUTOPILOT_MIN_CPU_MILLI = 250


def test_chart_files_are_present():
    assert (CHART_DIR / "values.schema.json").is_file(), f"missing chart schema in {CHART_DIR}"


def test_merged_values_validate_against_the_chart_schema():
    assert schema_errors(chart_schema(), merged_values()) == []


@pytest.mark.parametrize("location", location_files(), ids=lambda path: path.stem)
def test_each_location_validates_against_the_user_deployments_schema(location: Path):
    values = merged_location_values(yaml.safe_load(location.read_text()))
    assert schema_errors(subchart_schema(), values) == []


def test_validation_of_a_location_catches_a_bad_value():
    values = merged_location_values(yaml.safe_load(location_files()[0].read_text()))
    values["deployments"][0]["resources"] = {"limits": {"memory": {"a": 1}}}
    del values["deployments"][0]["image"]
    errors = schema_errors(subchart_schema(), values)
    assert any(error.startswith("deployments/0/resources") for error in errors), errors
    assert any("'image' is a required property" in error for error in errors), errors


def test_validation_catches_a_bad_value():
    """The registry really resolves the Kubernetes refs: a bad resources block is rejected."""
    values = merged_values()
    values["dagsterWebserver"]["resources"] = {"requests": {"cpu": ["not", "a", "quantity"]}}
    values["postgresql"]["enabled"] = "no"
    errors = schema_errors(chart_schema(), values)
    assert any(error.startswith("dagsterWebserver/resources") for error in errors), errors
    assert any(error.startswith("postgresql/enabled") for error in errors), errors


def test_external_postgres_through_a_secret_with_psycopg2():
    values = merged_values()
    assert values["postgresql"]["enabled"] is False
    assert values["postgresql"]["postgresqlScheme"] == "postgresql+psycopg2"
    assert values["postgresql"]["postgresqlHost"]
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"] == "dagster-postgresql-secret"


def test_the_platform_deploys_no_code_and_lists_every_location():
    """Each location is its own release (so each team deploys alone); the platform's workspace
    names each one's Service (the deployment name) and port, once."""
    section = merged_values()[SUBCHART]
    assert section["enabled"] is True and section["enableSubchart"] is False
    workspace = merged_values()["dagsterWebserver"]["workspace"]
    assert workspace["enabled"] is True and not workspace.get("externalConfigmap")
    servers = {server["host"]: server for server in workspace["servers"]}
    assert len(servers) == len(workspace["servers"])
    deployments = location_deployments()
    assert servers.keys() == deployments.keys()
    for host, server in servers.items():
        assert server["port"] == deployments[host]["port"], host
    names = [server["name"] for server in workspace["servers"]]
    assert len(set(names)) == len(names)


def _local_location_names() -> dict[str, str]:
    """Module -> location name in the workspace files `dagster dev` serves."""
    names = {}
    for path in ("workspace.yaml", "workspace_two_teams.yaml"):
        for entry in yaml.safe_load((REPO_ROOT / path).read_text())["load_from"]:
            module = entry["python_module"]
            names[module["module_name"]] = module["location_name"]
    return names


def test_a_location_has_the_name_it_has_locally():
    """Runs and schedules are addressed by location name: the cluster's match the local ones."""
    local = _local_location_names()
    deployments = location_deployments()
    for server in merged_values()["dagsterWebserver"]["workspace"]["servers"]:
        assert local[served_module(deployments[server["host"]])] == server["name"]


@pytest.mark.parametrize("location", location_files(), ids=lambda path: path.stem)
def test_each_location_hands_its_image_secrets_and_branch_to_its_runs(location: Path):
    deployment = location_deployment(location)
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}
    assert {"name": "lake-assets-env"} in deployment["envSecrets"]
    assert [e["name"] for e in deployment["env"]].count("LAKE_BRANCH") == 1
    assert deployment["image"]["repository"] and deployment["image"]["tag"]


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
    return {
        "webserver": values["dagsterWebserver"]["resources"],
        "webserver init": values["dagsterWebserver"]["initContainerResources"],
        "daemon": values["dagsterDaemon"]["resources"],
        "daemon init": values["dagsterDaemon"]["initContainerResources"],
        **{
            f"location {path.stem}": location_deployment(path)["resources"]
            for path in location_files()
        },
        "run pods": values["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"][
            "containerConfig"
        ]["resources"],
    }


@pytest.mark.parametrize("container", sorted(_service_containers()))
def test_every_container_requests_what_it_limits(container: str):
    resources = _service_containers()[container]
    assert resources["requests"] == resources["limits"]
    assert set(resources["requests"]) == {"cpu", "memory", "ephemeral-storage"}
