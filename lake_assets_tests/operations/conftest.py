"""Fixtures for the operations tests: a throwaway PostgreSQL database and Dagster instances on
PostgreSQL and on both SQLite layouts."""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from dagster import DagsterInstance, instance_for_test

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"


def _admin_connection():
    try:
        conn = psycopg2.connect(PG_ADMIN_DSN)
    except psycopg2.OperationalError as exc:
        message = f"PostgreSQL on 127.0.0.1:5432 is not reachable: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    conn.autocommit = True
    return conn


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty database for one test, dropped afterwards (psycopg2 scheme, see guide)."""
    name = f"lake_ops_{uuid.uuid4().hex[:12]}"
    admin = _admin_connection()
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def postgres_instance(url: str):
    """An instance whose run, event log and schedule storage are all PostgreSQL."""
    return instance_for_test(overrides={"storage": {"postgres": {"postgres_url": url}}})


def consolidated_sqlite_instance(base_dir: Path):
    """SQLite with every run's events in one file (ConsolidatedSqliteEventLogStorage)."""
    return instance_for_test(
        overrides={
            "event_log_storage": {
                "module": "dagster._core.storage.event_log",
                "class": "ConsolidatedSqliteEventLogStorage",
                "config": {"base_dir": str(base_dir / "event_logs")},
            }
        }
    )


@pytest.fixture(params=["postgres", "sqlite_sharded", "sqlite_consolidated"])
def storage_instance(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DagsterInstance]:
    """The same instance API over PostgreSQL, the run-sharded SQLite layout that `dagster dev`
    uses by default, and consolidated SQLite."""
    yield from _instance(request, tmp_path)


@pytest.fixture(params=["postgres", "sqlite_consolidated"])
def single_table_instance(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[DagsterInstance]:
    """The storages whose asset queries read the very ``event_logs`` rows that pruning edits."""
    yield from _instance(request, tmp_path)


def _instance(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DagsterInstance]:
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        with postgres_instance(url) as instance:
            yield instance
    elif request.param == "sqlite_sharded":
        (tmp_path / "home").mkdir()
        with DagsterInstance.local_temp(str(tmp_path / "home")) as instance:
            yield instance
    else:
        with consolidated_sqlite_instance(tmp_path) as instance:
            yield instance
