"""The backfill commands of docs/pipeline.md, run for real: `dagster` subprocesses against a
temp DAGSTER_HOME (the repo's dagster.yaml) and a temp lake, with a real daemon."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from lake_assets.lake import DatasetId, Lake
from lake_assets.pipeline.datasets import DATASETS

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
RUNS_DEADLINE = 1500
"""Seconds to wait for every run: the backfills' and those the latest sensor requests as the
backfills publish (about 58), which the daemon launches a few at a time. A launch took 5-20 s
on the 2-core CI machine, whose speed varies by 1.6x from day to day."""
WEEK = [d.date().isoformat() for d in pd.date_range("2013-01-01", "2013-01-07")]
BATCHED = [d.date().isoformat() for d in pd.date_range("2013-01-08", "2013-01-12")]


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").symlink_to(ROOT / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if k != "LAKE_BRANCH"}
    env.update(DAGSTER_HOME=str(home), LAKE_URL=str(tmp_path / "lake"))
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # the instance this test reads runs from
    return env


def cli(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [str(BIN / args[0]), *args[1:]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout + out.stderr


def dates(env: dict[str, str], repo: str) -> list[str]:
    return Lake.open(env["LAKE_URL"]).dates(DatasetId(repo, "master"))


def wait_for(env: dict[str, str], days: list[str], runs_done: int) -> list:
    from dagster import DagsterInstance

    deadline = time.monotonic() + RUNS_DEADLINE
    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        while time.monotonic() < deadline:
            runs = instance.get_runs()
            finished = [r for r in runs if r.is_finished]
            if len(finished) >= runs_done and len(finished) == len(runs):
                return runs
            time.sleep(3)
        pytest.fail(f"runs did not finish: {[(r.run_id, r.status) for r in runs]}")


@pytest.mark.timeout(RUNS_DEADLINE + 300)
def test_materialize_and_backfill_from_the_cli(cli_env: dict[str, str]) -> None:
    cli(
        cli_env,
        "python",
        "-m",
        "lake_assets.pipeline.seed",
        "--start",
        WEEK[0],
        "--end",
        BATCHED[-1],
    )

    out = cli(
        cli_env,
        "dagster",
        "asset",
        "materialize",
        "-m",
        "lake_assets.definitions",
        "--select",
        "kind:pandas",
        "--partition",
        "2013-01-05",
    )
    assert "RUN_SUCCESS" in out
    for ds in DATASETS:
        assert dates(cli_env, ds.repo) == ["2013-01-05"], ds.repo

    out = cli(
        cli_env,
        "dagster",
        "job",
        "backfill",
        "-m",
        "lake_assets.definitions",
        "-j",
        "lake_pipeline",
        "--from",
        WEEK[0],
        "--to",
        WEEK[-1],
        "--noprompt",
    )
    assert "Launched backfill job" in out
    variables = {
        "partitionNames": BATCHED,
        "assetSelection": [{"path": [ds.repo, "master"]} for ds in DATASETS],
    }
    out = cli(
        cli_env,
        "dagster-graphql",
        "-w",
        "workspace.yaml",
        "--file",
        "docs/backfill.graphql",
        "-v",
        json.dumps(variables),
    )
    assert "LaunchBackfillSuccess" in out, out

    daemon = subprocess.Popen(
        [str(BIN / "dagster-daemon"), "run", "-m", "lake_assets.definitions"],
        cwd=ROOT,
        env=cli_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        runs = wait_for(cli_env, WEEK + BATCHED, runs_done=1 + len(WEEK) + 1)
    finally:
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait(timeout=30)

    assert all(r.status.value == "SUCCESS" for r in runs), [(r.run_id, r.status) for r in runs]
    for ds in DATASETS:
        assert dates(cli_env, ds.repo) == WEEK + BATCHED, ds.repo
    per_day = [
        r for r in runs if r.tags.get("dagster/partition") in WEEK and r.job_name == "lake_pipeline"
    ]
    assert sorted(r.tags["dagster/partition"] for r in per_day) == WEEK
    batched = [r for r in runs if r.tags.get("dagster/asset_partition_range_start")]
    assert len(batched) == 1, "five days fit in one batch of 31"
    assert batched[0].tags["dagster/asset_partition_range_start"] == BATCHED[0]
    assert batched[0].tags["dagster/asset_partition_range_end"] == BATCHED[-1]
