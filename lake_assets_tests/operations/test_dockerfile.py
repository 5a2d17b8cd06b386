"""The image cannot be built here (no container engine); check what the Dockerfile promises:
pinned base images and dependencies, a non-root user, and a code server on a module that exists."""

import importlib.util
import json
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
LOCK = ROOT / "requirements.lock"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    pairs = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def _final_stage() -> list[tuple[str, str]]:
    instructions = _instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def _locked() -> dict[str, str]:
    return dict(re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)", LOCK.read_text(), flags=re.M))


def test_base_images_and_tools_are_pinned():
    images = [args.split()[0] for keyword, args in _instructions() if keyword == "FROM"]
    images += re.findall(r"--from=(\S+)", DOCKERFILE.read_text())
    external = [image for image in images if ":" in image]
    assert external, "no pinned image found"
    for image in external:
        tag = image.rsplit(":", 1)[1]
        assert re.fullmatch(r"\d+\.\d+\.\d+[\w.\-]*", tag), f"{image} is not pinned to a version"


def test_dependencies_install_from_the_hashed_lock():
    runs = [args for keyword, args in _instructions() if keyword == "RUN"]
    installs = [args for args in runs if "pip install" in args]
    assert any("--require-hashes" in args and "-r requirements.lock" in args for args in installs)
    assert all("--no-deps" in args for args in installs), "an install could resolve unpinned deps"
    text = LOCK.read_text()
    assert "--hash=sha256:" in text
    requirement_lines = [
        line for line in text.splitlines() if line and not line.startswith((" ", "#"))
    ]
    assert all("==" in line for line in requirement_lines), "unpinned line in the lock"


def test_lock_matches_the_pins_in_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    locked = {name.lower(): version for name, version in _locked().items()}
    for requirement in pyproject["project"]["dependencies"]:
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([\w.]+)", requirement)
        if match:
            assert locked.get(match[1].lower()) == match[2], f"lock disagrees on {requirement}"
    assert "psycopg2-binary" in locked, "dagster-postgres needs psycopg2"


def test_runs_as_a_non_root_user():
    users = [args for keyword, args in _final_stage() if keyword == "USER"]
    assert users, "the final stage has no USER"
    user = users[-1].split(":")[0]
    assert user not in ("0", "root")
    assert user.isdigit(), "a numeric uid lets Kubernetes verify runAsNonRoot"
    values = (ROOT / "helm" / "values.yaml").read_text()
    assert f"runAsUser: {user}" in values, "Helm values and image disagree on the uid"


def test_code_server_is_the_default_command_and_its_module_exists():
    final = _final_stage()
    assert not [args for keyword, args in final if keyword == "ENTRYPOINT"], (
        "an ENTRYPOINT would be prepended to the run launcher's `dagster api execute_run` args"
    )
    (cmd,) = [json.loads(args) for keyword, args in final if keyword == "CMD"]
    assert cmd[:3] == ["dagster", "code-server", "start"]
    module = cmd[cmd.index("-m") + 1]
    assert importlib.util.find_spec(module) is not None, f"{module} does not exist"
    assert cmd[cmd.index("-p") + 1] == "3030"


@pytest.mark.parametrize(
    "needed", ["pyproject.toml", "README.md", "requirements.lock", "lake_assets/"]
)
def test_dockerignore_lets_the_build_inputs_through(needed: str):
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in ignore
    assert f"!{needed}" in ignore
