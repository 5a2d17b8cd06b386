"""Our Helm values as the chart sees them: merged over the chart's defaults the way Helm merges
(maps recursively, everything else replaced), and the schemas to check them against, with the
remote Kubernetes `$ref`s resolved to the schemas kubernetes-validate ships."""

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

REPO_ROOT = Path(__file__).resolve().parents[2]
OUR_VALUES = REPO_ROOT / "helm" / "values.yaml"
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


def merged_subchart_values() -> dict[str, Any]:
    """What the user-deployments subchart receives: its defaults, our section, and globals."""
    parent = merged_values()
    values = helm_merge(_load(CHART_DIR / "charts" / SUBCHART / "values.yaml"), parent[SUBCHART])
    values["global"] = helm_merge(values.get("global", {}), parent["global"])
    return values


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
