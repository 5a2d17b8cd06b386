"""The `producer` block of a production record: who and what made a version."""

from __future__ import annotations

import getpass
import os
import subprocess
from functools import cache
from importlib import metadata
from typing import Any

_COMMIT_VARS = ("LAKE_GIT_COMMIT", "GIT_COMMIT", "CI_COMMIT_SHA", "GITHUB_SHA")


def user() -> str:
    """`LAKE_USER`, else the login the environment names."""
    if found := os.environ.get("LAKE_USER"):
        return found
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@cache
def git_commit() -> str | None:
    for var in _COMMIT_VARS:
        if found := os.environ.get(var):
            return found
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


@cache
def versions() -> dict[str, str]:
    found = {}
    for dist in ("lake_assets", "dagster", "pandas"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return found


def producer(**fields: Any) -> dict[str, Any]:
    """Defaults for every producer, overlaid with what the caller knows (asset key, run id,
    function, parameters, code version)."""
    base: dict[str, Any] = {"user": user(), "versions": versions()}
    if commit := git_commit():
        base["git_commit"] = commit
    base.update({k: v for k, v in fields.items() if v is not None})
    return base
