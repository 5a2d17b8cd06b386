"""The Kubernetes Job of every asset's run and of backfill runs, built by dagster-k8s from our
Helm launcher settings and run tags, is valid Kubernetes and fits GKE Autopilot's rules."""

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from dagster import DagsterInstance
from kubernetes.utils import parse_quantity

from lake_assets.operations import K8S_CONFIG_TAG, k8s_config_tags
from lake_assets.operations.k8s_tags import SPOT_NODE_SELECTOR
from lake_assets_tests.operations.helm_values import location_deployment, location_files
from lake_assets_tests.operations.k8s_launch import (
    KUBECONFIG,
    LAKE_LOCATION,
    RecordingBatchApi,
    create_run,
    launch,
    launcher_from_values,
    location_image,
    release_fullname,
)

K8S_VERSION = "1.30.0"
GIB = 1024**3
SAFE_TO_EVICT = "cluster-autoscaler.kubernetes.io/safe-to-evict"


def _asset_keys() -> list[str]:
    """Every materializable asset of the code location."""
    from lake_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    return sorted(
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if graph.get(key).is_materializable
    )


ASSET_KEYS = _asset_keys()

RUN_KINDS: dict[str, dict[str, str]] = {
    "standard": {},
    "heavy": k8s_config_tags(heavy=True),
    "backfill": {"dagster/backfill": "abcdefgh", **k8s_config_tags(backfill=True)},
    "backfill_spot": {"dagster/backfill": "abcdefgh", **k8s_config_tags(backfill=True, spot=True)},
    "heavy_backfill_spot": {
        "dagster/backfill": "abcdefgh",
        **k8s_config_tags(heavy=True, backfill=True, spot=True),
    },
}


@pytest.fixture(scope="module")
def launched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[tuple[str, str], Any]]:
    """One launched Job per (asset, run kind), plus the log-cleanup job's run."""
    kubeconfig = tmp_path_factory.mktemp("kube") / "config"
    kubeconfig.write_text(KUBECONFIG)
    batch_api = RecordingBatchApi()
    launcher = launcher_from_values(kubeconfig, batch_api)
    home = tmp_path_factory.mktemp("dagster_home")
    with DagsterInstance.local_temp(str(home)) as instance:
        launcher.register_instance(instance)
        jobs: dict[tuple[str, str], Any] = {}
        for asset in ASSET_KEYS:
            for kind, tags in RUN_KINDS.items():
                run_tags = {"dagster/asset_selection": asset, "dagster/partition": "2024-01-02"}
                run = create_run(instance, "__ASSET_JOB", {**run_tags, **tags})
                jobs[(asset, kind)] = launch(instance, launcher, batch_api, run)
        cleanup = create_run(instance, "log_cleanup", {})
        jobs[("log_cleanup", "standard")] = launch(instance, launcher, batch_api, cleanup)
        yield jobs


def test_the_code_location_has_assets():
    assert ASSET_KEYS, "lake_assets.definitions.defs has no materializable asset"


def _containers(job: dict[str, Any]) -> list[dict[str, Any]]:
    spec = job["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def _check_autopilot(job: dict[str, Any]) -> None:
    for container in _containers(job):
        resources = container.get("resources") or {}
        requests, limits = resources.get("requests"), resources.get("limits")
        name = container["name"]
        assert requests and requests == limits, f"{name}: requests {requests} != limits {limits}"
        cpu = parse_quantity(requests["cpu"])
        memory = parse_quantity(requests["memory"])
        ephemeral = parse_quantity(requests["ephemeral-storage"])
        assert cpu >= parse_quantity("250m"), f"{name}: cpu {cpu} < 250m"
        assert memory >= parse_quantity("512Mi"), f"{name}: memory {memory} < 512Mi"
        ratio = memory / GIB / cpu
        assert 1 <= ratio <= 6.5, f"{name}: {ratio} GiB of memory per vCPU"
        assert ephemeral <= parse_quantity("10Gi"), f"{name}: ephemeral storage {ephemeral}"


@pytest.mark.parametrize("kind", sorted(RUN_KINDS))
@pytest.mark.parametrize("asset", ASSET_KEYS)
def test_run_job_is_valid_kubernetes_and_fits_autopilot(
    launched: dict[tuple[str, str], Any], asset: str, kind: str
):
    job = launched[(asset, kind)]
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)
    _check_autopilot(job)
    pod = job["spec"]["template"]
    assert pod["metadata"]["annotations"][SAFE_TO_EVICT] == "false"
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    assert job["spec"]["backoffLimit"] == 0
    container = pod["spec"]["containers"][0]
    assert container["image"] == location_image(LAKE_LOCATION)
    env_from = [
        source["secretRef"]["name"] for source in container["envFrom"] if "secretRef" in source
    ]
    assert "lake-assets-env" in env_from
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True


def test_tags_size_the_run_and_spot_only_for_backfills(launched: dict[tuple[str, str], Any]):
    asset = ASSET_KEYS[0]

    def resources(kind: str) -> dict[str, str]:
        return launched[(asset, kind)]["spec"]["template"]["spec"]["containers"][0]["resources"][
            "requests"
        ]

    def cpu(kind: str) -> float:
        return float(parse_quantity(resources(kind)["cpu"]))

    assert cpu("standard") < cpu("backfill") < cpu("heavy")
    for kind in ("standard", "heavy", "backfill"):
        spec = launched[(asset, kind)]["spec"]["template"]["spec"]
        assert (
            "nodeSelector" not in spec or SPOT_NODE_SELECTOR.items() - spec["nodeSelector"].items()
        )
    for kind in ("backfill_spot", "heavy_backfill_spot"):
        spec = launched[(asset, kind)]["spec"]["template"]["spec"]
        assert spec["nodeSelector"] == SPOT_NODE_SELECTOR
        assert spec["terminationGracePeriodSeconds"] <= 25


def test_spot_is_refused_outside_backfills():
    with pytest.raises(ValueError, match="only for backfill runs"):
        k8s_config_tags(spot=True)


def test_tag_value_is_the_json_dagster_k8s_reads():
    config = json.loads(k8s_config_tags(heavy=True)[K8S_CONFIG_TAG])
    resources = config["container_config"]["resources"]
    assert resources["requests"] == resources["limits"]


def test_kubernetes_validate_cli_accepts_the_jobs(
    launched: dict[tuple[str, str], Any], tmp_path: Path
):
    """The same manifests through the kubernetes-validate command in --strict mode."""
    manifest = tmp_path / "jobs.yaml"
    manifest.write_text(yaml.safe_dump_all(list(launched.values())))
    cli = Path(sys.executable).parent / "kubernetes-validate"
    result = subprocess.run(
        [str(cli), "--strict", "-k", K8S_VERSION, "--quiet", str(manifest)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_autopilot_check_rejects_unequal_requests(launched: dict[tuple[str, str], Any]):
    job = json.loads(json.dumps(launched[(ASSET_KEYS[0], "standard")]))
    job["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = "4"
    with pytest.raises(AssertionError, match="requests"):
        _check_autopilot(job)


@pytest.mark.parametrize("location", location_files(), ids=lambda path: path.stem)
def test_each_location_runs_from_its_own_image_with_its_own_branch(
    location: Path, tmp_path: Path
) -> None:
    """A run queued from a team's location is a Job of that team's image, with the env and
    secrets of that team's deployment: its LAKE_BRANCH, its env config map, its service
    account, never another location's."""
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(KUBECONFIG)
    batch_api = RecordingBatchApi()
    launcher = launcher_from_values(kubeconfig, batch_api)
    deployment = location_deployment(location)
    with DagsterInstance.local_temp(tempdir=str(tmp_path)) as instance:
        launcher.register_instance(instance)
        run = create_run(instance, "__ASSET_JOB", {"dagster/partition": "2024-01-02"}, location)
        job = launch(instance, launcher, batch_api, run)
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)
    _check_autopilot(job)
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == location_image(location)
    env = {item["name"]: item.get("value") for item in container["env"]}
    (branch,) = [item["value"] for item in deployment["env"] if item["name"] == "LAKE_BRANCH"]
    assert env["LAKE_BRANCH"] == branch
    sources = [next(iter(source.values()))["name"] for source in container["envFrom"]]
    fullname = release_fullname(deployment["name"])
    assert f"{fullname}-{deployment['name']}-user-env" in sources
    assert "lake-assets-env" in sources
    assert pod["serviceAccountName"] == f"{fullname}-user-deployments"


def test_the_locations_have_images_of_their_own() -> None:
    images = [location_image(path) for path in location_files()]
    assert len(images) >= 2 and len(set(images)) == len(images)
