"""Shared fixtures: a real S3 endpoint (moto's server on 127.0.0.1) and lakes on it and on disk.

Every process these tests start inherits the fake credentials and the endpoint, so daemons,
run workers and `gros://` in a subprocess reach the same server.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from lake_assets_tests.openlineage_receiver import Receiver

os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_EC2_METADATA_DISABLED="true",
)
os.environ.pop("LAKE_URL", None)
os.environ.pop("LAKE_BRANCH", None)
os.environ.pop("LAKE_DEFAULT_BRANCH", None)
for _var in [v for v in os.environ if v.startswith("OPENLINEAGE")]:
    os.environ.pop(_var)  # events only where a test starts a receiver


def _atomic_conditional_puts() -> None:
    """moto checks a PUT's If-Match / If-None-Match (and a copy's source condition), then
    writes, with no lock between: two racing conditional writers can both win, which S3 never
    lets happen (a replace race lost a version to it once in CI). One PUT at a time."""
    from moto.s3.responses import S3Response

    original = S3Response._key_response_put
    if getattr(original, "serialized", False):
        return
    lock = threading.Lock()

    def serialized(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, *args, **kwargs)

    serialized.serialized = True  # type: ignore[attr-defined]
    S3Response._key_response_put = serialized  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on a free loopback port, for the whole session."""
    from moto.server import ThreadedMotoServer

    _atomic_conditional_puts()

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ["AWS_ENDPOINT_URL_S3"] = endpoint
    yield endpoint
    server.stop()
    os.environ.pop("AWS_ENDPOINT_URL_S3", None)


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A fresh bucket per test, so tests never see each other's objects."""
    name = f"lake-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["local", "s3"])
def lake_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The lake root, once on a local directory and once on S3 (moto's server)."""
    if request.param == "local":
        return str(tmp_path / "lake")
    bucket = request.getfixturevalue("s3_bucket")
    return f"s3://{bucket}/lake"


@pytest.fixture
def lake_env(lake_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """`LAKE_URL` set for this process and every process it starts."""
    monkeypatch.setenv("LAKE_URL", lake_url)
    return lake_url


@pytest.fixture
def ol_receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    """An OpenLineage receiver on 127.0.0.1, configured as users do (`OPENLINEAGE_URL`)."""
    from lake_assets.lake import openlineage

    receiver = Receiver()
    monkeypatch.setenv("OPENLINEAGE_URL", receiver.url)
    yield receiver
    openlineage.flush(10)
    receiver.close()


@pytest.fixture
def lake(lake_url: str):
    from lake_assets.lake import Lake

    return Lake.open(lake_url)


# The fast tier (`./dev test --fast`) deselects `postgres`: a test that reaches PostgreSQL
# without the marker would break it, so the marker comes from the fixtures, not from memory.
POSTGRES_FIXTURE = "postgres_url"
"""The fresh database of operations/conftest.py; every PostgreSQL test goes through it."""


def _uses_postgres(item: pytest.Item) -> bool:
    """`postgres_url` in the test's fixture closure, or a parameter `"postgres"` of a fixture
    parametrized over storages (those get `postgres_url` with `request.getfixturevalue`, which
    the closure does not show)."""
    if POSTGRES_FIXTURE in getattr(item, "fixturenames", ()):
        return True
    callspec = getattr(item, "callspec", None)
    params = callspec.params.values() if callspec is not None else ()
    return any(isinstance(value, str) and value == "postgres" for value in params)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects anything
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _uses_postgres(item) and item.get_closest_marker("postgres") is None:
            item.add_marker(pytest.mark.postgres)


def pytest_fixture_setup(fixturedef: pytest.FixtureDef, request: pytest.FixtureRequest) -> None:
    """The rule above, enforced: `postgres_url` reached some way it does not see fails the test
    instead of slipping PostgreSQL into the fast tier."""
    if fixturedef.argname != POSTGRES_FIXTURE or fixturedef.scope != "function":
        return
    if request.node.get_closest_marker("postgres") is None:
        pytest.fail(
            f"{request.node.nodeid} uses PostgreSQL ({POSTGRES_FIXTURE}) but is not marked: "
            "add @pytest.mark.postgres, or give its storage fixture the parameter 'postgres'",
            pytrace=False,
        )
