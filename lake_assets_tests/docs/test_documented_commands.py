"""Every `bash` block of README.md and docs/*.md, run verbatim against the deployment the README
starts: `./dev up` itself, with DAGSTER_HOME and XDG_DATA_HOME (the embedded lake) in a temp dir,
so the developer's own instance and lake are untouched.

Each document runs in one shell, block after block, as a reader pastes it into a terminal next
to `./dev up` (with no virtualenv active). Every run the commands start, the lake sensor's
included, must succeed, and every backfill must complete. A block right after a line
`<!-- docs-test: skip: REASON -->` is not run; new blocks are run without asking."""

from __future__ import annotations

import datetime as dt
import os
import re
import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lake_assets.pipeline.datasets import DATASETS
from lake_assets_tests.dagster_dev import ARTIFACTS, ROOT, dev_up

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LOCATION = "lake_assets.definitions"
SENSOR = "lake_upstream_latest"
SHELLS = {"bash", "sh", "shell"}
SKIP = re.compile(r"<!--\s*docs-test:\s*skip:\s*(?P<reason>\S.*?)\s*-->")
FENCE = re.compile(r"(?P<indent>\s*)```(?P<lang>[\w-]*)")
BROKEN = ("Traceback (most recent call last)", "PythonError", "DagsterCodeLocationNotFoundError")
"""Output that means a command failed even when it exited 0 (dagster-graphql does)."""
SETTLE_DEADLINE = 900
"""Seconds for `./dev up` to build every seeded day of every dataset, as the README promises."""
DOC_DEADLINE = 900
"""Seconds for one document's commands (two in-process runs share 2 cores with the daemon's)."""
RUNS_DEADLINE = 1800
"""Seconds for every queued run to finish: the backfills' and those the lake sensor requests as
the commands publish, launched a few at a time by the daemon of `./dev up`."""
SEEDED = ("2013-01-01", "2013-01-02", "2013-01-03")
BUILT_HERE = tuple(d.repo for d in DATASETS)


@dataclass(frozen=True)
class Block:
    doc: Path
    line: int
    text: str
    skip: str | None

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"


def shell_blocks(doc: Path) -> list[Block]:
    """The fenced shell blocks of `doc` (list items' indented ones too), in order."""
    lines = doc.read_text().splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        fence = FENCE.fullmatch(lines[i].rstrip())
        if fence is None:
            i += 1
            continue
        start, indent = i, fence["indent"]
        i += 1
        body = []
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i].removeprefix(indent))
            i += 1
        i += 1
        if fence["lang"] in SHELLS:
            before = next((ln.strip() for ln in reversed(lines[:start]) if ln.strip()), "")
            skip = SKIP.fullmatch(before)
            text = "\n".join(body) + "\n"
            found.append(Block(doc, start + 1, text, skip["reason"] if skip else None))
    return found


def runnable(doc: Path) -> list[Block]:
    return [b for b in shell_blocks(doc) if b.skip is None]


def test_the_documents_have_commands_and_every_skip_marks_a_block() -> None:
    """A marker without a reason, or one no shell block follows, is a typo: it would run, or
    silently skip, something other than what its author meant."""
    for doc in DOCS:
        lines = [ln.strip() for ln in doc.read_text().splitlines()]
        markers = [ln for ln in lines if ln.startswith("<!--") and "docs-test:" in ln]
        assert all(SKIP.fullmatch(m) for m in markers), markers
        assert len([b for b in shell_blocks(doc) if b.skip]) == len(markers), doc
    assert runnable(ROOT / "README.md")
    assert runnable(ROOT / "docs" / "pipeline.md")
    assert [b.text.split()[:2] for b in shell_blocks(ROOT / "README.md") if b.skip] == [
        ["./dev", "up"]
    ]


def test_commands_use_the_instance_of_the_running_deployment() -> None:
    """`export DAGSTER_HOME=$PWD/.dagster_home` would send a reader's runs, and this test's, to
    an instance no daemon serves, whatever `./dev up` was started with."""
    for doc in DOCS:
        for block in runnable(doc):
            for assignment in re.findall(r"DAGSTER_HOME=\S*", block.text):
                assert assignment.startswith("DAGSTER_HOME=${DAGSTER_HOME:-"), block.where


def test_every_way_of_loading_the_code_names_one_location() -> None:
    """A run queued under another name than the daemon's fails with
    DagsterCodeLocationNotFoundError while its backfill shows green."""
    from dagster._core.workspace.load_target import (
        ModuleTarget,
        PyProjectFileTarget,
        WorkspaceFileTarget,
    )

    targets = [
        WorkspaceFileTarget(paths=[str(ROOT / "workspace.yaml")]),
        PyProjectFileTarget(str(ROOT / "pyproject.toml")),
        ModuleTarget(
            module_name="lake_assets.definitions",
            attribute=None,
            working_directory=str(ROOT),
            location_name=None,
        ),
    ]
    names = {o.location_name for t in targets for o in t.create_origins()}
    assert names == {LOCATION}


def reader_env(tmp_path: Path) -> dict[str, str]:
    """A reader's shell: no virtualenv on PATH, the embedded default lake; DAGSTER_HOME and the
    data home point at temp dirs, as `./dev up` and the documented commands honour them."""
    venv_bin = (ROOT / ".venv" / "bin").resolve()
    drop = {"LAKE_URL", "LAKE_BRANCH", "LAKE_DEFAULT_BRANCH", "VIRTUAL_ENV", "PORT", "HOST"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    path = env.get("PATH", "").split(os.pathsep)
    env["PATH"] = os.pathsep.join(p for p in path if p and Path(p).resolve() != venv_bin)
    env.update(DAGSTER_HOME=str(tmp_path / "dagster_home"), XDG_DATA_HOME=str(tmp_path / "data"))
    return env


def run_document(doc: Path, env: dict[str, str]) -> str:
    """Its blocks in one `bash`, each announced by `>>> FILE:LINE`; `set -e` stops at the first
    command that fails and names it."""
    script = ["set -eo pipefail", """trap 'echo "!!! failed: $BASH_COMMAND" >&2' ERR"""]
    for block in runnable(doc):
        script += [f"echo {shlex.quote('>>> ' + block.where)}", block.text]
    out = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=DOC_DEADLINE,
    )
    (ARTIFACTS / f"docs_{doc.stem}.log").write_text(out.stdout)
    assert out.returncode == 0, f"{doc.name} (exit {out.returncode}):\n{out.stdout[-6000:]}"
    for sign in BROKEN:
        assert sign not in out.stdout, f"{doc.name} printed {sign!r}:\n{out.stdout[-6000:]}"
    return out.stdout


def sensor_ticks(instance: Any, after: float) -> list[Any]:
    from dagster._core.definitions.run_request import InstigatorType

    states = [
        s
        for s in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
        if s.instigator_name == SENSOR
    ]
    return [
        t
        for s in states
        for t in instance.get_ticks(s.instigator_origin_id, s.selector_id, after=after)
    ]


def drained(instance: Any, started: float) -> bool:
    """Nothing queued or running, no backfill in progress, and a sensor tick that began after the
    last run ended (so it saw every publish) has finished without requesting more."""
    from dagster._core.execution.backfill import BulkActionStatus
    from dagster._core.scheduler.instigation import TickStatus

    records = instance.get_run_records()
    if any(not r.dagster_run.is_finished for r in records):
        return False
    if any(b.status == BulkActionStatus.REQUESTED for b in instance.get_backfills()):
        return False
    last_end = max([started, *(r.end_time or 0 for r in records)])
    ticks = sensor_ticks(instance, last_end)
    return any(t.status != TickStatus.STARTED and not t.run_ids for t in ticks)


def wait_until_drained(instance: Any, started: float, deadline: float, also: Any = None) -> None:
    while time.monotonic() < deadline:
        if drained(instance, started) and (also is None or also()):
            return
        time.sleep(5)
    runs = [(r.run_id, r.job_name, r.status.value, r.tags) for r in instance.get_runs()]
    pytest.fail(f"the runs did not drain: {runs}")


def failure_of(instance: Any, run_id: str) -> str:
    """The first error the run logged, one line: what a reader would look for."""
    from dagster import DagsterEventType

    for kind in (DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE):
        for event in instance.all_logs(run_id, of_type=kind):
            error = getattr(event.dagster_event.event_specific_data, "error", None)
            if error is not None:
                cause = error.cause or error
                return f"{error.message.strip()} | {cause.message.strip()}"[:600]
    return "(no failure event)"


def seeded_days_built(lake_dir: Path) -> bool:
    return all(
        (lake_dir / "asset" / repo / "master" / "data" / f"{day}.csv.gz").is_file()
        for repo in BUILT_HERE
        for day in SEEDED
    )


@pytest.mark.daemon
@pytest.mark.timeout(SETTLE_DEADLINE + len(DOCS) * DOC_DEADLINE + RUNS_DEADLINE + 300)
def test_documented_commands_against_dev_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster import DagsterInstance
    from dagster._core.execution.backfill import BulkActionStatus
    from dagster._core.storage.dagster_run import RunsFilter

    env = reader_env(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])  # dagster.yaml's storage reads it
    lake_dir = tmp_path / "data" / "lake_assets" / "lake"
    before = {p.name for p in ROOT.iterdir()}
    started = time.time()
    try:
        with (
            dev_up(env, tmp_path, "docs_dev_up"),
            DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance,
        ):
            wait_until_drained(
                instance,
                started,
                time.monotonic() + SETTLE_DEADLINE,
                also=lambda: seeded_days_built(lake_dir),
            )
            by_sensor = instance.get_runs(RunsFilter(tags={"dagster/sensor_name": SENSOR}))
            assert len(by_sensor) == 1, "the seeded days, every dataset, in one run"
            assert by_sensor[0].tags["dagster/asset_partition_range_start"] == SEEDED[0]
            assert by_sensor[0].tags["dagster/asset_partition_range_end"] == SEEDED[-1]
            settled = time.time()
            for doc in DOCS:
                run_document(doc, env)
            wait_until_drained(instance, settled, time.monotonic() + RUNS_DEADLINE)
            runs = instance.get_runs()
            backfills = instance.get_backfills()
            failed = {
                r.run_id: (
                    r.job_name,
                    r.tags.get("dagster/partition"),
                    failure_of(instance, r.run_id),
                )
                for r in runs
                if r.status.value != "SUCCESS"
            }
            assert not failed, failed
            elsewhere = {
                r.run_id: r.remote_job_origin.location_name
                for r in runs
                if r.remote_job_origin and r.remote_job_origin.location_name != LOCATION
            }
            assert not elsewhere, (
                f"runs queued for a location the daemon does not serve: {elsewhere}"
            )
            done = (BulkActionStatus.COMPLETED_SUCCESS, BulkActionStatus.COMPLETED)  # job's
            assert all(b.status in done for b in backfills), [
                (b.backfill_id, b.status) for b in backfills
            ]
            launching = sum(
                b.text.count("dagster job backfill") + b.text.count("docs/backfill.graphql")
                for doc in DOCS
                for b in runnable(doc)
            )
            assert len(backfills) == launching, "every documented backfill launched one"
            for backfill in backfills:
                of_it = instance.get_runs(filters=RunsFilter.for_backfill(backfill.backfill_id))
                assert of_it, backfill.backfill_id
                if backfill.is_asset_backfill:  # batches of at most LAKE_BACKFILL_BATCH days
                    for run in of_it:
                        first = run.tags["dagster/asset_partition_range_start"]
                        last = run.tags["dagster/asset_partition_range_end"]
                        span = dt.date.fromisoformat(last) - dt.date.fromisoformat(first)
                        assert span.days < 31, run.tags
                else:  # one run per day
                    days = sorted(r.tags["dagster/partition"] for r in of_it)
                    assert days == sorted(set(days)) == sorted(backfill.partition_names or [])
            sensors = [t for t in sensor_ticks(instance, started) if t.status.value == "FAILURE"]
            assert not sensors, [t.tick_data.error for t in sensors]
    finally:
        named = "\n".join(b.text for doc in DOCS for b in runnable(doc))
        for name in {p.name for p in ROOT.iterdir()} - before:
            if (ROOT / name).is_file() and name in named:  # written by a command (`> day.csv`)
                (ROOT / name).unlink()
