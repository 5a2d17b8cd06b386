"""One pipeline day accounted for event by event: every version made (the sources published
as another team would, bronze to gold in one Dagster run) is one OpenLineage run whose
COMPLETE names exactly the upstream versions its production record names; an export of the
lake afterwards names the same runs, twice over identically."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lake_assets.lake import DatasetId, Lake, openlineage
from lake_assets.lake.catalog import listed_datasets
from lake_assets.lake.contract.refs import ProductionRecord
from lake_assets.lake.openlineage.export import export
from lake_assets.lake.openlineage.ids import namespace
from lake_assets.pipeline import seed
from lake_assets.pipeline.datasets import DATASETS
from lake_assets_tests.dagster_layer.conftest import lake_resources
from lake_assets_tests.openlineage_receiver import Receiver, validate
from lake_assets_tests.pipeline.conftest import run_days

DAY = "2013-01-02"
CHECKS = {
    d.repo: {"schema"} | ({"quarantine_budget"} if d.spec.quarantine_budget is not None else set())
    for d in DATASETS
}


def _records(lake: Lake) -> dict[str, ProductionRecord]:
    found = {}
    for ds in listed_datasets(lake.store):
        for date in lake.dates(ds):
            record = lake.record(ds, date)
            assert record is not None
            found[f"{ds}:{date}"] = record
    return found


def _versions(dataset: dict[str, Any]) -> str:
    return dataset["facets"]["version"]["datasetVersion"]


def _inputs(event: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (
            i["name"],
            i["inputFacets"]["subset"]["inputCondition"]["partitions"][0]["identifier"],
            _versions(i),
        )
        for i in event["inputs"]
    }


@pytest.fixture
def day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ol_receiver: Receiver, pipeline_assets
) -> tuple[Lake, Any, list[dict[str, Any]]]:
    url = str(tmp_path / "lake")
    monkeypatch.setenv("LAKE_URL", url)
    seed.seed(DAY, DAY)
    result = run_days(pipeline_assets, lake_resources(url), DAY)
    assert result.success
    assert openlineage.flush(10)
    return Lake.open(url), result, ol_receiver.take()


def test_every_version_made_is_one_run_with_the_versions_its_record_names(day) -> None:
    lake, result, events = day
    records = _records(lake)
    ns = namespace(lake.store.url)
    by_run: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_run.setdefault(e["run"]["runId"], []).append(e)
    assert len(by_run) == len(records), "one OpenLineage run per version made"
    assert len(events) == 2 * len(records)
    materializations = {
        e.materialization.asset_key.path[-1]: e.materialization
        for e in result.get_asset_materialization_events()
    }
    completes = {}
    for run_events in by_run.values():
        assert [e["eventType"] for e in run_events] == ["START", "COMPLETE"]
        start, complete = run_events
        assert start["job"] == complete["job"]
        (output,) = complete["outputs"]
        date = output["outputFacets"]["subset"]["outputCondition"]["partitions"][0]["identifier"]
        completes[f"{output['name']}:{date}"] = complete
    assert set(completes) == set(records)

    for uri, record in records.items():
        complete = completes[uri]
        ref = record.gros_ref
        assert complete["job"]["namespace"] == ns
        assert _versions(complete["outputs"][0]) == ref.sha256
        assert complete["run"]["facets"]["nominalTime"]["nominalStartTime"].startswith(ref.date)
        assert _inputs(complete) == {(str(u.dataset), u.date, u.sha256) for u in record.upstreams}
        parent = complete["run"]["facets"].get("parent")
        if record.producer.get("run_id"):  # made by the Dagster run
            assert parent["run"]["runId"] == result.run_id
            shown = materializations[ref.repo].metadata["openlineage_run_id"].value
            assert shown == complete["run"]["runId"], "the UI names the run a catalog shows"
            assert parent["job"]["name"] == result.dagster_run.job_name
            assert complete["job"]["facets"]["jobType"]["integration"] == "DAGSTER"
            function = record.producer["function"]
            location = complete["job"]["facets"]["sourceCodeLocation"]
            assert location["url"] == f"python:{function}"
            checks = complete["outputs"][0]["facets"]["dataQualityAssertions"]["assertions"]
            assert {c["assertion"] for c in checks} == CHECKS[ref.repo]
            assert all(c["success"] and c["severity"] == "error" for c in checks)
        else:  # a source, published by its team's job
            assert parent is None
            assert complete["job"]["facets"]["jobType"]["jobType"] == "PUBLISH"
    silver = completes[f"flights_silver/master:{DAY}"]
    assert {(n, d) for n, d, _ in _inputs(silver)} == {
        ("flights_bronze/master", DAY),
        ("airlines/master", DAY),
        ("airports/master", DAY),
    }


def test_an_export_names_the_same_runs_and_is_idempotent(day, tmp_path: Path) -> None:
    lake, _result, live = day
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    done = export(lake, str(first))
    export(lake, str(second))
    assert first.read_text() == second.read_text()
    exported = [json.loads(line) for line in first.read_text().splitlines()]
    for event in exported:
        validate(event)
    assert done.events == len(exported) == len(live)
    live_runs = {(e["eventType"], e["run"]["runId"]) for e in live}
    assert {(e["eventType"], e["run"]["runId"]) for e in exported} == live_runs
    live_complete = {e["run"]["runId"]: e for e in live if e["eventType"] == "COMPLETE"}
    for event in exported:
        if event["eventType"] != "COMPLETE":
            continue
        same = live_complete[event["run"]["runId"]]
        assert event["job"] == same["job"]
        assert _inputs(event) == _inputs(same)
        assert event["outputs"][0]["facets"]["version"] == same["outputs"][0]["facets"]["version"]
        assert event["run"]["facets"].get("parent") == same["run"]["facets"].get("parent")


def test_a_run_in_a_process_of_its_own_sends_its_events_before_it_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ol_receiver: Receiver
) -> None:
    """As the documented backfill command (and a run worker) runs it: steps in a process that
    ends right after the run; every step's events arrive first."""
    url = str(tmp_path / "lake")
    monkeypatch.setenv("LAKE_URL", url)
    seed.seed(DAY, DAY)
    assert openlineage.flush(10)
    ol_receiver.take()
    (tmp_path / "dagster_home").mkdir()
    selection = "key:master/flights_bronze or key:master/flights_silver"
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster"),
            *("asset", "materialize", "-m", "lake_assets.definitions"),
            *("--select", selection, "--partition", DAY),
        ],
        env={**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = ol_receiver.take()
    made = [(e["eventType"], e["job"]["name"]) for e in events]
    assert sorted(made) == sorted(
        [
            ("START", "flights_bronze/master"),
            ("COMPLETE", "flights_bronze/master"),
            ("START", "flights_silver/master"),
            ("COMPLETE", "flights_silver/master"),
        ]
    )
    lake = Lake.open(url)
    record = lake.record(DatasetId("flights_silver", "master"), DAY)
    assert record is not None
    (silver,) = [e for e in events if e["eventType"] == "COMPLETE" and "silver" in e["job"]["name"]]
    assert _inputs(silver) == {(str(u.dataset), u.date, u.sha256) for u in record.upstreams}
