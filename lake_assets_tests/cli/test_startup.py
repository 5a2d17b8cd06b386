"""`lake --help`, `lake ls` and `lake info` start without pandas, pyarrow, numpy or Dagster.

Importing pandas alone takes over a second, several times what these commands need, so the
lake imports them only where it reads or writes data. The commands run through the installed
entry point under `-X importtime`, whose report lists every module the process imported.
"""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from lake_assets.lake import DatasetId, Lake
from lake_assets_tests.cli.conftest import Run, lake_cli

HEAVY = ("pandas", "pyarrow", "numpy", "dagster")


def imported(report: str) -> list[tuple[int, str]]:
    """(depth, module) per line of an importtime report, in its order: a module's own
    imports come before it, one level deeper."""
    found = []
    for line in report.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1]
            found.append(((len(name) - len(name.lstrip()) - 1) // 2, name.strip()))
    return found[1:]  # the header line


def chain(modules: list[tuple[int, str]], i: int) -> str:
    """Who imported `modules[i]`, up to the top: the chain to cut when this test fails."""
    depth, name = modules[i]
    links = [name]
    for d, importer in modules[i + 1 :]:
        if d < depth:
            links.append(importer)
            depth = d
    return " <- ".join(links)


def heavy_imports(report: str) -> list[str]:
    """The import chain of every HEAVY package in the report."""
    modules = imported(report)
    return [chain(modules, i) for i, (_, name) in enumerate(modules) if name in HEAVY]


def assert_light(run: Run) -> None:
    run.ok()
    assert "lake_assets.cli.main" in {name for _, name in imported(run.err)}, run.err[-2000:]
    assert heavy_imports(run.err) == []


@pytest.fixture
def small_lake(lake: Lake) -> None:
    sales, report = DatasetId("sales", "master"), DatasetId("report", "master")
    lake.publish(pd.DataFrame({"id": [1, 2]}), sales, "2024-01-01", upstreams=[])
    up = lake.publish(pd.DataFrame({"id": [3]}), sales, "2024-01-02", upstreams=[])
    down = lake.publish(pd.DataFrame({"n": [1]}), report, "2024-01-02", upstreams=[up])
    lake.register_downstream(sales, down, None)


def test_help_is_light() -> None:
    run = lake_cli("--help", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert "Usage: lake" in run.out
    assert_light(run)


@pytest.mark.parametrize(
    "args", [("ls",), ("ls", "sales"), ("info", "gros://sales"), ("info", "gros://report:0")]
)
def test_browsing_is_light(cli_process, small_lake: None, args: tuple[str, ...]) -> None:
    run = cli_process(*args, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert "sales" in run.out or "report" in run.out
    assert_light(run)


def test_the_check_sees_a_heavy_import() -> None:
    """The check is not vacuous: it finds pandas in a real report, and who imported it."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import lake_assets.lake.codec.gzip_csv"],
        capture_output=True,
        text=True,
        check=True,
    )
    chains = heavy_imports(proc.stderr)
    assert any(c.startswith("pandas <- lake_assets.lake.codec.gzip_csv") for c in chains), chains
