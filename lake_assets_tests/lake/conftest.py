"""Fixtures of the protocol tests: raw access to a lake root the way a foreign producer has
it (plain files or plain boto3), subprocess runs, and a clean lineage scope per test."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from lake_assets.lake import lineage
from lake_assets.lake.codec import gzip_csv as codec
from lake_assets_tests.raw_lake import RawLake

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def raw(lake_url: str) -> RawLake:
    return RawLake(lake_url)


@pytest.fixture(autouse=True)
def _clean_process_scope() -> Iterator[None]:
    """Reads recorded in the pytest process must not become another test's upstreams."""
    lineage.forget(lineage.PROCESS_SCOPE)
    yield
    lineage.forget(lineage.PROCESS_SCOPE)


def run_python(
    code: str, *, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter of the project's venv, outside the repo directory
    (so only the installed package is importable) with this process's environment."""
    full_env = {**os.environ, **(env or {})}
    full_env = {k: v for k, v in full_env.items() if v is not None}
    return subprocess.run(
        [sys.executable, "-c", code],
        env=full_env,
        cwd="/",
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def small_segments(monkeypatch: pytest.MonkeyPatch) -> int:
    """Segments of a few KiB and slices of 50 rows, so a small frame spans many segments."""
    monkeypatch.setattr(codec, "SEGMENT_TEXT", 4096)
    monkeypatch.setattr(codec, "_SLICE_ROWS", 50)
    monkeypatch.setattr(codec, "_WRITE", pa.csv.WriteOptions(batch_size=50))
    monkeypatch.setattr(
        codec, "_WRITE_ROWS", pa.csv.WriteOptions(batch_size=50, include_header=False)
    )
    return 4096
