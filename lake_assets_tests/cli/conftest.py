"""Fixtures of the CLI tests: `lake` run in this process (the `cli` fixture) or through its
real entry point in a subprocess (`lake_cli`, `cli_process`), and raw object access the way a
foreign producer (plain files or plain boto3) has it.

A subprocess costs a second or two of imports per invocation, so most tests run the Typer app
in-process, the way a fresh process would see it: its own stdout and stderr (with a binary
`buffer`, which `lake cat` writes), the environment and working directory it was given, a
fresh `Lake` (no pointers remembered from the test's own lake), no lineage reads of the test
and a copy of the context (so `--lake` does not stay set). What needs a real process (import
time, `python -m`, interpreter shutdown, rich's terminal detection, which happens when its
consoles are made at import) runs `lake_cli`; so do one read and one publish, to keep the
installed script itself tested.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lake_assets.lake import lineage
from lake_assets_tests.raw_lake import RawLake

LAKE = Path(sys.executable).parent / "lake"
COLUMNS = 200
"""Wide enough that tables are not wrapped."""


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
    full_env = {**os.environ, "COLUMNS": str(COLUMNS), **(env or {})}
    proc = subprocess.run(
        [str(LAKE), *args],
        env=full_env,
        cwd=cwd or "/",
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Run(proc)


class _Captured(io.TextIOWrapper):
    """A UTF-8 text stream over bytes, like a piped sys.stdout: text and `buffer` writes land
    in order (write-through)."""

    def __init__(self) -> None:
        super().__init__(io.BytesIO(), encoding="utf-8", newline="", write_through=True)

    def text(self) -> str:
        """What was written, read back the way `subprocess.run(text=True)` does."""
        self.flush()
        data = self.buffer.getvalue()  # type: ignore[attr-defined]
        return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8").read()


@contextlib.contextmanager
def _environment(changes: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _working_directory(path: Path | str) -> Iterator[None]:
    saved = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(saved)


@contextlib.contextmanager
def _console_width(width: int) -> Iterator[None]:
    """rich fixes a console's width when it is made (from COLUMNS): pin it for the run."""
    from lake_assets.cli import render

    saved = [(console, console._width) for console in (render.out, render.err)]
    for console, _ in saved:
        console.width = width
    try:
        yield
    finally:
        for console, value in saved:
            console._width = value


@contextlib.contextmanager
def _fresh_process_scope() -> Iterator[None]:
    """The run starts with no lineage reads, as a new process does; the test's own reads are
    back afterwards and the run's are gone."""
    kept = lineage.reads(lineage.PROCESS_SCOPE)
    lineage.forget(lineage.PROCESS_SCOPE)
    try:
        yield
    finally:
        lineage.forget(lineage.PROCESS_SCOPE)
        for read in kept:
            lineage.record(read.ref, read.uri, lineage.PROCESS_SCOPE, etag=read.etag)


def lake_in_process(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    """Run the `lake` app in this process, as `lake_cli` runs the script: same arguments,
    environment (`env` over this process's), working directory, exit code and output. An
    exception that escapes the app (only with LAKE_DEBUG) fails the test with its traceback."""
    from lake_assets.cli.main import app
    from lake_assets.lake import reading
    from lake_assets.lake.lake import _opened

    out, err = _Captured(), _Captured()
    _opened.cache_clear()  # a new process opens its lake afresh
    code = 0
    with contextlib.ExitStack() as stack:
        stack.enter_context(_environment({"COLUMNS": str(COLUMNS), **(env or {})}))
        stack.enter_context(_working_directory(cwd or "/"))
        stack.enter_context(_console_width(COLUMNS))
        stack.enter_context(_fresh_process_scope())
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        try:
            contextvars.copy_context().run(app, args=list(args), prog_name="lake")
        except SystemExit as e:  # what main() makes of it
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if isinstance(e.code, str):
                sys.stderr.write(e.code + "\n")
        finally:
            reading.finish_background()
    return Run(subprocess.CompletedProcess(["lake", *args], code, out.text(), err.text()))


@pytest.fixture(autouse=True)
def _clean_process_scope() -> Iterator[None]:
    """Reads recorded in the pytest process must not become another test's upstreams."""
    lineage.forget(lineage.PROCESS_SCOPE)
    yield
    lineage.forget(lineage.PROCESS_SCOPE)


@pytest.fixture
def cli(lake_url: str):
    """`lake --lake URL ...` for the test's lake, run in this process."""

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
        return lake_in_process("--lake", lake_url, *args, env=env, cwd=cwd)

    return run


@pytest.fixture
def cli_process(lake_url: str):
    """`lake --lake URL ...` for the test's lake, through the installed script."""

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
        return lake_cli("--lake", lake_url, *args, env=env, cwd=cwd)

    return run


@pytest.fixture
def raw(lake_url: str) -> RawLake:
    return RawLake(lake_url)
