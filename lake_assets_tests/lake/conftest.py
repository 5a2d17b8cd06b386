"""Fixtures of the protocol tests: raw access to a lake root the way a foreign producer has
it (plain files or plain boto3), subprocess runs, and a clean lineage scope per test."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
import pytest

from lake_assets.lake import lineage

ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def _client(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint)


class RawLake:
    """Objects under a lake root written and read without the project's code."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = urlparse(url)
        self.s3 = parsed.scheme == "s3"
        if self.s3:
            self.bucket = parsed.netloc
            self.prefix = parsed.path.strip("/") + "/" if parsed.path.strip("/") else ""
            self.client = _client(os.environ["AWS_ENDPOINT_URL_S3"])
        else:
            self.root = Path(url)

    def put(self, key: str, data: bytes) -> None:
        if self.s3:
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)
        else:
            path = self.root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

    def get(self, key: str) -> bytes:
        if self.s3:
            return self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"].read()
        return (self.root / key).read_bytes()

    def exists(self, key: str) -> bool:
        if self.s3:
            found = self.client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix + key)
            return any(o["Key"] == self.prefix + key for o in found.get("Contents", []))
        return (self.root / key).is_file()

    def all_keys(self) -> list[str]:
        """Every object key under the root, hidden local files included."""
        if self.s3:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            )
            return sorted(
                o["Key"][len(self.prefix) :] for p in pages for o in p.get("Contents", [])
            )
        if not self.root.exists():
            return []
        return sorted(
            p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file()
        )


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
