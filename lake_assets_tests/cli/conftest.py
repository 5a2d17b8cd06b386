"""Fixtures of the CLI tests: `lake` run through its real entry point in a subprocess, and
raw object access the way a foreign producer (plain files or plain boto3) has it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lake_assets_tests.raw_lake import RawLake

LAKE = Path(sys.executable).parent / "lake"


class Run:
    """One finished `lake` invocation."""

    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self) -> Any:
        return json.loads(self.out)

    def ok(self) -> Run:
        assert self.code == 0, f"exit {self.code}\nstdout:\n{self.out}\nstderr:\n{self.err}"
        assert "Traceback" not in self.err
        return self

    def error(self, *fragments: str, code: int = 1) -> str:
        """Assert a one-line error on stderr naming every fragment; return the line."""
        assert self.code == code, f"exit {self.code}\nstdout:\n{self.out}\nstderr:\n{self.err}"
        assert "Traceback" not in self.err, self.err
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, self.err
        assert lines[0].startswith("lake: error: "), lines[0]
        for fragment in fragments:
            assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
        return lines[0]


def lake_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    """Run the installed `lake` script with this process's environment (moto's endpoint and
    the fake credentials included), wide enough that tables are not wrapped."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    proc = subprocess.run(
        [str(LAKE), *args],
        env=full_env,
        cwd=cwd or "/",
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Run(proc)


@pytest.fixture
def cli(lake_url: str):
    """`lake --lake URL ...` for the test's lake."""

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
        return lake_cli("--lake", lake_url, *args, env=env, cwd=cwd)

    return run


@pytest.fixture
def raw(lake_url: str) -> RawLake:
    return RawLake(lake_url)
