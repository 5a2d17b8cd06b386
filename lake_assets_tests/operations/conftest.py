"""Fixtures for the operations tests: a throwaway PostgreSQL database, Dagster instances on
PostgreSQL and on both SQLite layouts, and the same instances holding the scenario's history.

Building the history (scenario.py) takes seconds of real Dagster runs, so it is built once per
layout into a template (SQLite: once per session, shared by pytest-xdist's workers; PostgreSQL:
once per worker) and every test gets its own copy: the template's directories copied (the SQLite
files and compute logs hold no absolute path; the paths live in the instance configuration,
written anew for the copy), and for PostgreSQL its database cloned with ``CREATE DATABASE ...
TEMPLATE``."""

import fcntl
import os
import pickle
import shutil
import uuid
from collections.abc import Iterator
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest
from dagster import DagsterInstance, instance_for_test

from lake_assets_tests.operations.scenario import Built, History, build_history

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"
PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"


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
        yield PG_URL.format(name=name)
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def postgres_instance(url: str, home: Path | None = None):
    """An instance whose run, event log and schedule storage are all PostgreSQL; its compute
    logs go under ``home`` (a temporary directory if not given)."""
    return instance_for_test(
        overrides={"storage": {"postgres": {"postgres_url": url}}},
        temp_dir=str(home) if home else None,
    )


def consolidated_sqlite_instance(base_dir: Path, home: Path | None = None):
    """SQLite with every run's events in one file (ConsolidatedSqliteEventLogStorage) under
    ``base_dir``; runs, schedules and compute logs under ``home`` (temporary if not given)."""
    return instance_for_test(
        overrides={
            "event_log_storage": {
                "module": "dagster._core.storage.event_log",
                "class": "ConsolidatedSqliteEventLogStorage",
                "config": {"base_dir": str(base_dir / "event_logs")},
            }
        },
        temp_dir=str(home) if home else None,
    )


def _instance(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DagsterInstance]:
    """An empty instance of the storage ``request.param`` names (for fixtures parametrized over
    "postgres", "sqlite_sharded" and "sqlite_consolidated")."""
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


@dataclass(frozen=True)
class _Template:
    """A closed instance with the history built: its directories under ``root`` (``home``, the
    instance's DAGSTER_HOME, and for consolidated SQLite ``event_logs``) and, for PostgreSQL,
    its database."""

    history: History
    root: Path
    database: str | None = None


def _open(layout: str, root: Path, url: str | None = None):
    """The instance of ``layout`` whose directories are under ``root``."""
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    if layout == "postgres":
        assert url
        return postgres_instance(url, home)
    if layout == "sqlite_sharded":
        return DagsterInstance.local_temp(str(home))
    return consolidated_sqlite_instance(root, home)


def _drop_database(admin, name: str) -> None:
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class _Templates:
    """The history of each layout, built on first use (so a run without PostgreSQL tests never
    reaches the server). A SQLite template is built once per session under ``root``, which
    pytest-xdist's workers share: the first worker to need it builds it under a file lock, the
    others wait and copy it. A PostgreSQL template is a database of this process, dropped by
    ``close``."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._built: dict[str, _Template] = {}
        self._databases: list[str] = []

    def get(self, layout: str) -> _Template:
        if layout not in self._built:
            build = self._build_postgres if layout == "postgres" else self._build_sqlite
            self._built[layout] = build(layout)
        return self._built[layout]

    def _build_sqlite(self, layout: str) -> _Template:
        done = self._root / layout
        with open(self._root / f"{layout}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
            if not done.exists():
                building = self._root / f"{layout}.{uuid.uuid4().hex[:8]}"
                with _open(layout, building / "instance") as instance:
                    history = build_history(instance)
                (building / "history.pickle").write_bytes(pickle.dumps(history))
                building.rename(done)  # complete or absent, for the other workers
        history = pickle.loads((done / "history.pickle").read_bytes())
        return _Template(history=history, root=done / "instance")

    def _build_postgres(self, layout: str) -> _Template:
        root = self._root / f"{layout}.{uuid.uuid4().hex[:8]}"
        database = f"lake_ops_template_{uuid.uuid4().hex[:12]}"
        admin = _admin_connection()
        try:
            with admin.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{database}"')
        finally:
            admin.close()
        self._databases.append(database)
        with _open(layout, root, PG_URL.format(name=database)) as instance:
            history = build_history(instance)
        # Closing the instance disposed of its engines (all NullPool): the template database has
        # no session left, as CREATE DATABASE ... TEMPLATE requires.
        return _Template(history=history, root=root, database=database)

    def clone(self, layout: str, root: Path, url: str | None = None) -> Iterator[Built]:
        """A copy of ``layout``'s template under ``root`` (and, for PostgreSQL, in the existing
        database of ``url``, which is replaced)."""
        template = self.get(layout)
        shutil.copytree(template.root, root)
        if layout == "postgres":
            assert url and template.database
            name = url.rsplit("/", 1)[1]
            admin = _admin_connection()
            try:
                _drop_database(admin, name)
                with admin.cursor() as cur:
                    cur.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template.database}"')
            finally:
                admin.close()
        with _open(layout, root, url) as instance:
            yield Built(instance=instance, history=deepcopy(template.history))

    def close(self) -> None:
        if not self._databases:
            return
        admin = _admin_connection()
        try:
            for name in self._databases:
                _drop_database(admin, name)
        finally:
            admin.close()


@pytest.fixture(scope="session")
def history_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Templates]:
    base = tmp_path_factory.getbasetemp()
    # pytest-xdist gives each worker <the session's basetemp>/<worker id>.
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    root = shared / "history_templates"
    root.mkdir(exist_ok=True)
    templates = _Templates(root)
    try:
        yield templates
    finally:
        templates.close()


def _built(
    request: pytest.FixtureRequest, tmp_path: Path, templates: _Templates
) -> Iterator[Built]:
    url = None
    if request.param == "postgres":
        # The test's own database (the marker rule sees it), then filled from the template.
        url = request.getfixturevalue("postgres_url")
    yield from templates.clone(request.param, tmp_path / "instance", url)


@pytest.fixture(params=["postgres", "sqlite_sharded", "sqlite_consolidated"])
def storage_history(
    request: pytest.FixtureRequest, tmp_path: Path, history_templates: _Templates
) -> Iterator[Built]:
    """The scenario's history (a fresh copy per test) on PostgreSQL, the run-sharded SQLite
    layout that `dagster dev` uses by default, and consolidated SQLite."""
    yield from _built(request, tmp_path, history_templates)


@pytest.fixture(params=["postgres", "sqlite_consolidated"])
def single_table_history(
    request: pytest.FixtureRequest, tmp_path: Path, history_templates: _Templates
) -> Iterator[Built]:
    """The scenario's history (a fresh copy per test) on the storages whose asset queries read
    the very ``event_logs`` rows that pruning edits."""
    yield from _built(request, tmp_path, history_templates)


@pytest.fixture
def sharded_history(tmp_path: Path, history_templates: _Templates) -> Iterator[Built]:
    """The run-sharded SQLite layout (``DagsterInstance.local_temp``) with the scenario's
    history built (a fresh copy per test)."""
    yield from history_templates.clone("sqlite_sharded", tmp_path / "instance")
