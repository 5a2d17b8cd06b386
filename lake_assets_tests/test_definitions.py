"""The code location loads the way the web server and daemon load it."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_dagster_validates_the_workspace(tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").symlink_to(ROOT / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "LAKE_URL": str(tmp_path / "lake")}
    dagster = Path(sys.executable).with_name("dagster")
    out = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "All code locations passed validation" in out.stdout + out.stderr


def test_definitions_use_the_lake_io_manager() -> None:
    from lake_assets.dagster_layer.io_manager import LakeIOManager
    from lake_assets.definitions import defs

    assert isinstance(defs.resources["io_manager"], LakeIOManager)
