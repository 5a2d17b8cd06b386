"""OpenLineage events from publishes outside Dagster, sent to a real HTTP receiver and checked
against the OpenLineage spec's JSON schemas."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import lake_assets
from lake_assets.lake import AlreadyPublished, Lake, openlineage
from lake_assets.lake.openlineage.ids import namespace
from lake_assets_tests.openlineage_receiver import Receiver, dead_url


def _events(receiver: Receiver) -> list[dict[str, Any]]:
    assert openlineage.flush(10)
    return receiver.take()


def _facet(dataset: dict[str, Any], group: str, name: str) -> dict[str, Any]:
    return dataset[group][name]


def test_a_publish_sends_start_and_complete_with_the_exact_input_versions(
    lake_url: str, ol_receiver: Receiver
) -> None:
    lake = Lake.open(lake_url)
    up = lake_assets.publish(
        pd.DataFrame({"k": [1, 2]}), "weather", "main", "2024-03-01", lake_url=lake_url
    )
    lake_assets.publish(
        pd.DataFrame({"k": [1, 9]}),
        "weather",
        "main",
        "2024-03-01",
        overwrite=True,
        lake_url=lake_url,
    )
    old = lake_assets.read("gros://weather/main:2024-03-01@0", lake_url=lake_url)
    new = lake_assets.read("gros://weather/main:2024-03-01", lake_url=lake_url)
    frame = pd.concat([old, new]).assign(x=0.5, name="a")
    out = lake_assets.publish(frame, "report", "main", "2024-03-02", lake_url=lake_url)
    events = _events(ol_receiver)

    assert [(e["eventType"], e["job"]["name"]) for e in events] == [
        ("START", "weather/main"),
        ("COMPLETE", "weather/main"),
        ("START", "weather/main"),
        ("COMPLETE", "weather/main"),
        ("START", "report/main"),
        ("COMPLETE", "report/main"),
    ]
    assert set(ol_receiver.paths) == {"/api/v1/lineage"}
    start, complete = events[-2:]
    assert start["run"]["runId"] == complete["run"]["runId"]
    assert len({e["run"]["runId"] for e in events}) == 3  # one run per version made
    ns = namespace(lake.store.url)
    assert complete["job"]["namespace"] == ns
    assert complete["run"]["facets"]["nominalTime"] == {
        **complete["run"]["facets"]["nominalTime"],
        "nominalStartTime": "2024-03-02T00:00:00Z",
        "nominalEndTime": "2024-03-03T00:00:00Z",
    }
    # Both versions of the upstream date were read: each is an input with its own sha256.
    record = lake.record(out.dataset, out.date)
    assert record is not None
    kept = lake.history(up.dataset, up.date)
    inputs = {
        (i["namespace"], i["name"], _facet(i, "facets", "version")["datasetVersion"])
        for i in complete["inputs"]
    }
    assert inputs == {(ns, "weather/main", v.sha256) for v in kept}
    assert inputs == {(ns, "weather/main", u.sha256) for u in record.upstreams}
    for i in complete["inputs"]:
        partitions = _facet(i, "inputFacets", "subset")["inputCondition"]["partitions"]
        assert partitions == [{"dimensions": {"date": "2024-03-01"}, "identifier": "2024-03-01"}]
    (output,) = complete["outputs"]
    assert (output["namespace"], output["name"]) == (ns, "report/main")
    assert _facet(output, "facets", "version")["datasetVersion"] == out.sha256
    assert [(f["name"], f["type"]) for f in _facet(output, "facets", "schema")["fields"]] == [
        ("k", "int64"),
        ("x", "double"),
        ("name", "large_string"),
    ]
    stats = _facet(output, "outputFacets", "outputStatistics")
    assert (stats["rowCount"], stats["size"]) == (4, out.bytes)
    assert complete["job"]["facets"]["jobType"]["jobType"] == "PUBLISH"
    assert "parent" not in complete["run"]["facets"]


def test_a_refused_publish_sends_fail_and_changes_nothing(
    tmp_path: Path, ol_receiver: Receiver
) -> None:
    url = str(tmp_path / "lake")
    lake_assets.publish(pd.DataFrame({"a": [1]}), "d", "main", "2024-01-01", lake_url=url)
    with pytest.raises(AlreadyPublished):
        lake_assets.publish(pd.DataFrame({"a": [2]}), "d", "main", "2024-01-01", lake_url=url)
    events = _events(ol_receiver)
    assert [e["eventType"] for e in events] == ["START", "COMPLETE", "START", "FAIL"]
    message = events[-1]["run"]["facets"]["errorMessage"]["message"]
    assert "AlreadyPublished" in message and "2024-01-01" in message
    assert lake_assets.read("gros://d/main:2024-01-01", lake_url=url)["a"].tolist() == [1]


def test_a_dead_receiver_never_fails_a_publish_and_is_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Configured by an `openlineage.yml` in the working directory (no retries, so the test
    does not wait out the client's default backoff)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "openlineage.yml").write_text(
        textwrap.dedent(f"""\
            transport:
              type: http
              url: {dead_url()}
              timeout: 2
              retry: {{total: 0, connect: 0, read: 0}}
            """)
    )
    assert openlineage.enabled()
    before = openlineage.stats()
    url = str(tmp_path / "lake")
    with caplog.at_level(logging.WARNING, logger="lake_assets.openlineage"):
        ref = lake_assets.publish(pd.DataFrame({"a": [1]}), "d", "main", "2024-01-01", lake_url=url)
        assert openlineage.flush(10)
    assert lake_assets.read("gros://d/main", lake_url=url)["a"].tolist() == [1]
    assert ref.date == "2024-01-01"
    after = openlineage.stats()
    assert after["failed"] - before["failed"] == 2
    warnings = [r.getMessage() for r in caplog.records]
    assert any("START of d/main" in w and "not sent" in w for w in warnings), warnings
    # One line per distinct problem: the COMPLETE's identical failure is not repeated.
    assert len(warnings) == 1


def test_a_receiver_that_answers_an_error_is_counted_as_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Receiver()
    receiver.status = 400  # not retried by the client's default policy
    monkeypatch.setenv("OPENLINEAGE_URL", receiver.url)
    try:
        before = openlineage.stats()
        url = str(tmp_path / "lake")
        lake_assets.publish(pd.DataFrame({"a": [1]}), "d", "main", "2024-01-01", lake_url=url)
        assert openlineage.flush(10)
        assert openlineage.stats()["failed"] - before["failed"] == 2
        assert len(receiver.paths) == 2 and receiver.take() == []
    finally:
        receiver.close()


def test_disabled_sends_nothing(
    tmp_path: Path, ol_receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENLINEAGE_DISABLED", "true")
    assert not openlineage.enabled()
    url = str(tmp_path / "lake")
    lake_assets.publish(pd.DataFrame({"a": [1]}), "d", "main", "2024-01-01", lake_url=url)
    monkeypatch.delenv("OPENLINEAGE_DISABLED")
    assert _events(ol_receiver) == [] and ol_receiver.paths == []


def test_unconfigured_publishes_import_no_openlineage_code(tmp_path: Path) -> None:
    """No configuration, no cost: the client library is never imported and no thread runs."""
    script = f"""
import sys, threading
import pandas as pd
import lake_assets
frame = pd.DataFrame({{"a": [1]}})
lake_assets.publish(frame, "d", "main", "2024-01-01", lake_url={str(tmp_path)!r})
loaded = sorted(m for m in sys.modules if m.startswith("openlineage"))
threads = [t.name for t in threading.enumerate() if t.name == "openlineage"]
print(loaded, threads)
"""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LAKE_USER": "t"}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[] []"


def test_the_client_configuration_does_not_leak_into_the_environment(
    tmp_path: Path, ol_receiver: Receiver
) -> None:
    """The client aliases `OPENLINEAGE_URL` into `OPENLINEAGE__TRANSPORT__*` variables; left
    there, a later `OPENLINEAGE_URL` or a child process would see a stale transport."""
    import os

    url = str(tmp_path / "lake")
    lake_assets.publish(pd.DataFrame({"a": [1]}), "d", "main", "2024-01-01", lake_url=url)
    assert _events(ol_receiver)
    assert [k for k in os.environ if k.startswith("OPENLINEAGE__")] == []


def test_the_lake_command_sends_its_events_before_it_exits(
    tmp_path: Path, ol_receiver: Receiver
) -> None:
    """`lake` ends with `os._exit` (no atexit): its events are flushed first."""
    from lake_assets_tests.cli.conftest import lake_cli

    data = tmp_path / "day.csv"
    data.write_text("id\n1\n")
    lake = str(tmp_path / "lake")
    lake_cli("--lake", lake, "publish", str(data), "gros://ext:2024-06-01").ok()
    assert [e["eventType"] for e in ol_receiver.take()] == ["START", "COMPLETE"]


def test_the_lake_command_with_a_dead_receiver_publishes_and_says_so(tmp_path: Path) -> None:
    """The client's default retries (about 9 s per event) outlast the flush bound: the
    command still exits 0 within it, the version published, the loss on stderr."""
    from lake_assets_tests.cli.conftest import lake_cli

    data = tmp_path / "day.csv"
    data.write_text("id\n1\n")
    lake = str(tmp_path / "lake")
    env = {"OPENLINEAGE_URL": dead_url(), "LAKE_OPENLINEAGE_FLUSH_SECONDS": "1"}
    run = lake_cli("--lake", lake, "publish", str(data), "gros://ext:2024-06-01", env=env).ok()
    assert "events not sent within 1 s; dropped" in run.err
    assert lake_assets.read("gros://ext:2024-06-01", lake_url=lake)["id"].tolist() == [1]
