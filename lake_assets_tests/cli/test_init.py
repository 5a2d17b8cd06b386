"""`lake init PATH --repo NAME` writes a team's own repo: the files a code location needs,
filled in for NAME and pinned to this lake_assets, refusing what would not work (a non-empty
directory, a name that is no lake repo or no Python package). The last test is the real
thing: the written repo installed into a virtual environment of its own passes its own tests
and `dagster definitions validate`."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from lake_assets.cli.init import templates
from lake_assets_tests.cli.conftest import lake_in_process
from lake_assets_tests.operations.helm_values import (
    CHART_DIR,
    SUBCHART,
    chart_schema,
    helm_merge,
    schema_registry,
    subchart_schema,
)

ROOT = Path(__file__).resolve().parents[2]
REPO = "route-delays"
PKG = "route_delays"
VERSION = importlib.metadata.version("lake_assets")
FILES = [
    ".gitignore",
    "Dockerfile",
    "README.md",
    "dagster.yaml",
    "helm/values.yaml",
    "pyproject.toml",
    f"{PKG}/__init__.py",
    f"{PKG}/definitions.py",
    f"{PKG}_tests/__init__.py",
    f"{PKG}_tests/test_definitions.py",
    "workspace.yaml",
]
BIN = Path(sys.executable).parent


def _init(path: Path, repo: str = REPO, *args: str):
    return lake_in_process("init", str(path), "--repo", repo, *args)


def _written(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _from_images(dockerfile: str) -> list[str]:
    return re.findall(r"^FROM (\S+)", dockerfile, flags=re.M)


def test_the_templates_ship_with_the_package() -> None:
    """Found through importlib.resources (pyproject.toml's package-data ships them)."""
    assert sorted(templates()) == sorted(
        name.replace(PKG, "pkg").replace(".gitignore", "gitignore") for name in FILES
    )


def test_init_writes_a_team_repo(tmp_path: Path) -> None:
    root = tmp_path / "team"
    run = _init(root).ok()
    assert _written(root) == FILES
    assert run.out.startswith(f"wrote {len(FILES)} files of the {REPO} repo")
    assert "pytest" in run.out and "dagster dev" in run.out

    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert project["project"]["name"] == REPO
    assert project["project"]["dependencies"] == [f"lake_assets=={VERSION}"]
    assert any(d.startswith("pytest") for d in project["project"]["optional-dependencies"]["dev"])
    assert project["tool"]["dagster"] == {
        "module_name": f"{PKG}.definitions",
        "code_location_name": f"{PKG}.definitions",
    }

    definitions = (root / PKG / "definitions.py").read_text()
    ast.parse(definitions)
    assert f'repo="{REPO}"' in definitions and f"def {PKG}(" in definitions
    assert "from lake_assets import DatasetContext, ExternalSource, dataset, lake_definitions" in (
        definitions
    )
    ast.parse((root / f"{PKG}_tests" / "test_definitions.py").read_text())

    workspace = yaml.safe_load((root / "workspace.yaml").read_text())
    assert workspace == {
        "load_from": [
            {
                "python_module": {
                    "module_name": f"{PKG}.definitions",
                    "location_name": f"{PKG}.definitions",
                }
            }
        ]
    }
    instance = yaml.safe_load((root / "dagster.yaml").read_text())
    assert instance["telemetry"] == {"enabled": False} and instance["nux"] == {"enabled": False}
    assert "storage" not in instance, "dagster dev keeps its storage in DAGSTER_HOME"

    readme = (root / "README.md").read_text()
    assert readme.startswith(f"# {REPO}\n")
    assert "dagster dev" in readme and "pytest" in readme and "LAKE_BRANCH" in readme
    assert "${{ github.ref_name }}" in readme
    assert ".tmp_dagster_home_*/" in (root / ".gitignore").read_text()


def test_the_image_is_built_on_the_lakes_base(tmp_path: Path) -> None:
    _init(tmp_path / "team").ok()
    team = (tmp_path / "team" / "Dockerfile").read_text()
    lake = (ROOT / "Dockerfile").read_text()
    assert set(_from_images(lake)) <= set(_from_images(team)), "the same pinned Python base"
    assert f"lake-assets:{VERSION}" in team, "on the lake's image of the pinned version"
    assert "COPY --from=lake /opt/venv /opt/venv" in team
    assert re.findall(r"COPY --from=ghcr.io/astral-sh/uv:\S+", team) == re.findall(
        r"COPY --from=ghcr.io/astral-sh/uv:\S+", lake
    )
    assert f'"-m", "{PKG}.definitions"]' in team
    assert "USER 10001:10001" in team and "ENV PATH=/opt/venv/bin:$PATH" in team


def test_the_helm_entry_validates_against_the_chart(tmp_path: Path) -> None:
    _init(tmp_path / "team").ok()
    ours = yaml.safe_load((tmp_path / "team" / "helm" / "values.yaml").read_text())
    lake = yaml.safe_load((ROOT / "helm" / "values.yaml").read_text())
    (entry,) = ours[SUBCHART]["deployments"]
    (lakes,) = lake[SUBCHART]["deployments"]
    assert entry["name"] == "route-delays"
    assert entry["dagsterApiGrpcArgs"] == ["-m", f"{PKG}.definitions"]
    for same in ("port", "envSecrets", "resources", "podSecurityContext"):
        assert entry[same] == lakes[same], same
    assert {"name": "LAKE_BRANCH", "value": "master"} in entry["env"]

    chart = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    merged = helm_merge(chart, ours)
    sub = helm_merge(
        yaml.safe_load((CHART_DIR / "charts" / SUBCHART / "values.yaml").read_text()),
        merged[SUBCHART],
    )
    sub["global"] = helm_merge(sub.get("global", {}), merged["global"])
    for schema, values in ((chart_schema(), merged), (subchart_schema(), sub)):
        validator = Draft202012Validator(schema, registry=schema_registry())
        assert [e.message for e in validator.iter_errors(values)] == []


def test_json_names_the_files_and_the_next_commands(tmp_path: Path) -> None:
    root = tmp_path / "team"
    got = _init(root, REPO, "--json").ok().json()
    assert got["path"] == str(root) and got["repo"] == REPO and got["package"] == PKG
    assert got["lake_assets"] == VERSION and got["files"] == FILES
    assert got["next"][0] == f"cd {root}" and "pytest" in got["next"]


def test_an_empty_directory_is_fine_and_a_name_is_made_a_package(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    _init(root, "Team.B-counts").ok()
    text = (root / "Team_B_counts" / "definitions.py").read_text()
    assert 'repo="Team.B-counts"' in text and "def Team_B_counts(" in text
    assert 'owners=["team:Team-B-counts"]' in text, "an owner is team:[A-Za-z0-9_-]+"
    values = yaml.safe_load((root / "helm" / "values.yaml").read_text())
    assert values[SUBCHART]["deployments"][0]["name"] == "team-b-counts"


def test_a_non_empty_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    _init(tmp_path).error("cannot write a repo at", "not empty")
    assert _written(tmp_path) == ["notes.txt"]
    (tmp_path / "file").write_text("")
    _init(tmp_path / "file").error("it is a file")


@pytest.mark.parametrize(
    ("repo", "fragment"),
    [
        ("-team", "invalid repo '-team'"),
        ("my team", "invalid repo 'my team'"),
        ("9lives", "'9lives' is not an identifier"),
        ("class", "'class' is not an identifier"),
        ("json", "would shadow the module"),
        ("lake_assets", "would shadow the module"),
        ("flights_silver", "the dataset the example reads"),
    ],
)
def test_a_bad_repo_name_is_refused(tmp_path: Path, repo: str, fragment: str) -> None:
    _init(tmp_path / "team", repo).error(fragment)
    assert not (tmp_path / "team").exists()


def _scaffold_env() -> dict[str, str]:
    """This process's environment without the lake's or pytest's own settings."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LAKE_", "PYTEST_", "DAGSTER_", "OPENLINEAGE"))
    }


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{args}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def test_the_repo_written_passes_its_own_tests_in_its_own_environment(tmp_path: Path) -> None:
    """`uv pip install -e lake_assets -e 'repo[dev]'` into a new virtual environment, from uv's
    cache (`--offline`; with the package index only when the cache lacks something), then the
    repo's own `pytest` and `dagster definitions validate`."""
    root, venv = tmp_path / "team", tmp_path / "venv"
    _init(root).ok()
    env = _scaffold_env()
    uv = str(BIN / "uv")
    _run([uv, "venv", "-q", "--python", sys.executable, str(venv)], tmp_path, env)
    install = [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python")]
    install += ["-e", str(ROOT), "-e", f"{root}[dev]"]
    started = time.monotonic()
    if subprocess.run([*install, "--offline"], env=env, capture_output=True).returncode != 0:
        _run(install, tmp_path, env)
    print(f"install: {time.monotonic() - started:.1f}s")

    tests = _run([str(venv / "bin" / "pytest"), "-p", "no:cacheprovider"], root, env)
    assert "3 passed" in tests.stdout, tests.stdout
    validate = [
        str(venv / "bin" / "dagster"),
        "definitions",
        "validate",
        "-m",
        f"{PKG}.definitions",
    ]
    checked = _run(validate, root, env)
    assert f"Validation successful for code location {PKG}.definitions" in checked.stderr + (
        checked.stdout
    )
