"""Our Helm values as the charts see them: the platform release (helm/values.yaml, the dagster
chart) and one release of the user-deployments chart per code location (helm/locations/),
merged over the chart's defaults the way Helm merges (maps recursively, everything else
replaced), and the schemas to check them against, with the remote Kubernetes `$ref`s resolved to
the schemas kubernetes-validate ships."""

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

REPO_ROOT = Path(__file__).resolve().parents[2]
OUR_VALUES = REPO_ROOT / "helm" / "values.yaml"
LOCATIONS = REPO_ROOT / "helm" / "locations"
CHART_DIR = REPO_ROOT.parent / "shared" / "dagster-helm"
SUBCHART = "dagster-user-deployments"
K8S_DEFINITIONS = (
    Path(kubernetes_validate.__file__).parent
    / "kubernetes-json-schema"
    / "v1.30.0-local"
    / "_definitions.json"
)


def helm_merge(defaults: Any, overrides: Any) -> Any:
    """Helm's coalescing of a values file over chart defaults."""
    if isinstance(defaults, dict) and isinstance(overrides, dict):
        merged = copy.deepcopy(defaults)
        for key, value in overrides.items():
            merged[key] = helm_merge(defaults.get(key), value) if key in defaults else value
        return merged
    return copy.deepcopy(overrides)


def _load(path: Path) -> Any:
    with path.open() as handle:
        return yaml.safe_load(handle)


def our_values() -> dict[str, Any]:
    return _load(OUR_VALUES)


def merged_values() -> dict[str, Any]:
    return helm_merge(_load(CHART_DIR / "values.yaml"), our_values())


def location_files() -> list[Path]:
    """The values of every code location's release, one file each."""
    return sorted(LOCATIONS.glob("*.yaml"))


def merged_location_values(values: dict[str, Any]) -> dict[str, Any]:
    """A location's values over the user-deployments chart's defaults, installed as a release
    of its own (so its globals are the chart's, not the platform's)."""
    return helm_merge(_load(CHART_DIR / "charts" / SUBCHART / "values.yaml"), values)


def location_deployment(path: Path) -> dict[str, Any]:
    """The one deployment a location's release holds, as the chart renders it."""
    (deployment,) = merged_location_values(_load(path))["deployments"]
    return deployment


def location_deployments() -> dict[str, dict[str, Any]]:
    """Every location's deployment by its name, which is its Service's: once each."""
    found: dict[str, dict[str, Any]] = {}
    for path in location_files():
        deployment = location_deployment(path)
        assert deployment["name"] not in found, f"{deployment['name']} is deployed twice"
        found[deployment["name"]] = deployment
    return found


def served_module(deployment: dict[str, Any]) -> str:
    """The module a deployment's code server loads (`dagster api grpc -m MODULE`)."""
    args = deployment["dagsterApiGrpcArgs"]
    return args[args.index("-m") + 1]


@cache
def _kubernetes_definitions() -> dict[str, Any]:
    """The shipped file keys its schemas under `$defs` (the chart's refs say `definitions`) and
    names itself by an `$id` of its own; serve both spellings under the URI the chart uses."""
    shipped = json.loads(K8S_DEFINITIONS.read_text())
    return {
        "$schema": shipped["$schema"],
        "$defs": shipped["$defs"],
        "definitions": shipped["$defs"],
    }


def _retrieve(uri: str) -> Resource:
    """Every remote reference in the chart schemas points into yannh/kubernetes-json-schema's
    `_definitions.json`; serve the copy kubernetes-validate ships instead of the network."""
    if not uri.endswith("/_definitions.json"):
        raise LookupError(f"unexpected remote schema reference {uri}")
    return DRAFT202012.create_resource(_kubernetes_definitions())


def schema_registry() -> Registry:
    return Registry(retrieve=_retrieve)


def chart_schema() -> dict[str, Any]:
    return _load(CHART_DIR / "values.schema.json")


def subchart_schema() -> dict[str, Any]:
    return _load(CHART_DIR / "charts" / SUBCHART / "values.schema.json")


def schema_errors(schema: dict[str, Any], values: dict[str, Any]) -> list[str]:
    """Every violation of `schema` in `values`, as `path: message`."""
    validator = Draft202012Validator(schema, registry=schema_registry())
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(values)
    ]
