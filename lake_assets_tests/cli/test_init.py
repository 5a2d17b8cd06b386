"""`lake init PATH --repo NAME` writes a team's own repo: the files a code location needs,
filled in for NAME and pinned to this lake_assets, refusing what would not work (a non-empty
directory, a name that is no lake repo or no Python package). The last test is the real
thing: the written repo installed into a virtual environment of its own passes its own tests
and `dagster definitions validate`."""

from __future__ import annotations

import ast
import importlib.metadata
import itertools
import os
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from lake_assets.cli.init import templates
from lake_assets_tests.cli.conftest import lake_in_process
from lake_assets_tests.operations.helm_values import (
    LOCATIONS,
    location_deployment,
    merged_location_values,
    schema_errors,
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
    "helm/deploy",
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


def test_the_helm_release_validates_against_the_chart(tmp_path: Path) -> None:
    """The team's location is a release of the user-deployments chart like the lake's own, with
    its own name, module and image, and the same secrets, size and user."""
    _init(tmp_path / "team").ok()
    values_file = tmp_path / "team" / "helm" / "values.yaml"
    entry = location_deployment(values_file)
    lakes = location_deployment(LOCATIONS / "lake-assets.yaml")
    assert entry["name"] == "route-delays"
    assert entry["dagsterApiGrpcArgs"] == ["-m", f"{PKG}.definitions"]
    assert entry["image"]["repository"] != lakes["image"]["repository"]
    for same in ("port", "envSecrets", "env", "resources", "podSecurityContext"):
        assert entry[same] == lakes[same], same
    assert {"name": "LAKE_BRANCH", "value": "master"} in entry["env"]
    text = values_file.read_text()
    assert "{host: route-delays, port: 3030, name: route_delays.definitions}" in text
    assert 'deployments[0].image.repository=$IMAGE"' in text
    values = merged_location_values(yaml.safe_load(text))
    assert schema_errors(subchart_schema(), values) == []


FAKE_HELM = """#!/bin/sh
printf '%s\\0' "$@" >> "$HELM_CALLS"
printf '\\n' >> "$HELM_CALLS"
"""


def _set(values: dict, assignment: str) -> None:
    """Helm's `--set a[0].b=v` on the values from -f: only the item's field changes."""
    path, _, value = assignment.partition("=")
    node: Any = values
    keys = [int(k) if k.isdigit() else k for k in re.split(r"[.\[\]]+", path) if k]
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value


def _deploy(root: Path, tmp_path: Path, branch: str) -> tuple[list[str], dict]:
    """Runs helm/deploy with a helm that records its arguments; the upgrade's arguments and
    the values Helm would install from them."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "helm").write_text(FAKE_HELM)
    (bin_dir / "helm").chmod(0o755)
    calls = tmp_path / f"calls-{len(list(tmp_path.glob('calls-*')))}"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "HELM_CALLS": str(calls)}
    done = subprocess.run(
        [str(root / "helm" / "deploy"), branch, "registry.example/team/route-delays", "abc123"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "deployed" in done.stdout
    (upgrade,) = [
        line.split("\0")[:-1]
        for line in calls.read_text().splitlines()
        if line.startswith("upgrade\0")
    ]
    values = yaml.safe_load(Path(upgrade[upgrade.index("-f") + 1]).read_text())
    for flag, assignment in itertools.pairwise(upgrade):
        if flag in ("--set", "--set-string"):
            _set(values, assignment)
    return upgrade, values


@pytest.mark.parametrize(
    ("branch", "release"),
    [
        ("master", "route-delays"),
        ("feature/Faster-Joins", "route-delays-feature-faster-joins"),
        ("x" * 80, "route-delays-" + "x" * 40),
    ],
)
def test_deploy_installs_a_release_per_branch_writing_that_branch(
    tmp_path: Path, branch: str, release: str
) -> None:
    """helm/deploy, what the team's CI calls: one release of the user-deployments chart per git
    branch, named for it, with the image and LAKE_BRANCH set, whose values still validate."""
    root = tmp_path / "team"
    _init(root).ok()
    upgrade, values = _deploy(root, tmp_path, branch)
    assert upgrade[:4] == ["upgrade", "--install", release, "dagster/dagster-user-deployments"]
    assert upgrade[upgrade.index("--version") + 1] == importlib.metadata.version("dagster")
    assert len(release) <= 53
    (deployment,) = values["deployments"]
    assert deployment["name"] == release
    assert deployment["image"] == {
        "repository": "registry.example/team/route-delays",
        "tag": "abc123",
        "pullPolicy": "IfNotPresent",
    }
    assert deployment["env"] == [{"name": "LAKE_BRANCH", "value": branch}]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", f"{PKG}.definitions"]
    assert schema_errors(subchart_schema(), merged_location_values(values)) == []


def test_deploy_without_its_arguments_says_how(tmp_path: Path) -> None:
    _init(tmp_path / "team").ok()
    done = subprocess.run(
        [str(tmp_path / "team" / "helm" / "deploy")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and "usage: helm/deploy BRANCH IMAGE TAG" in done.stderr


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
    assert 'owners=["team:Team.B-counts"]' in text
    assert location_deployment(root / "helm" / "values.yaml")["name"] == "team-b-counts"


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
