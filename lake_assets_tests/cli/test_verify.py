"""`lake verify`: every problem reported, exit non-zero; a clean lake passes."""

from __future__ import annotations

import pandas as pd

from lake_assets.lake import DatasetId, Lake
from lake_assets_tests.cli.conftest import RawLake

A = DatasetId("alpha", "master")
B = DatasetId("beta", "feature/z")
C = DatasetId("gamma", "master")


def test_verify(cli, cli_process, lake: Lake, raw: RawLake) -> None:
    df = pd.DataFrame({"x": [1, 2, 3]})
    a1 = lake.publish(df, A, "2024-01-01", upstreams=[])
    lake.publish(df.head(1), A, "2024-01-02", upstreams=[])
    b1 = lake.publish(df, B, "2024-01-01", upstreams=[a1])
    lake.publish(df, B, "2024-01-02", upstreams=[])
    lake.publish(df, C, "2024-01-01", upstreams=[b1])
    # a foreign producer's version: data and a bare latest only
    raw.put_csv(DatasetId("delta", "master").data_key("2024-01-01"), "y\n1\n")
    raw.put_json(
        DatasetId("delta", "master").latest_key,
        {"repo": "delta", "branch": "master", "date": "2024-01-01"},
    )

    ok = cli("verify").ok().out
    assert ok.startswith("OK: no problems (4 datasets,")
    assert cli("verify", "--json").ok().json()["ok"] is True

    corrupted = A.data_key("2024-01-01")
    raw.put(corrupted, raw.get(A.data_key("2024-01-02")))
    deleted = B.data_key("2024-01-01")
    raw.delete(deleted)
    raw.put_json(C.latest_key, {"repo": "gamma", "branch": "master", "date": "2024-09-09"})
    raw.put(DatasetId("delta", "master").latest_key, b'{"repo": "delta"}')

    run = cli("verify", "--json")
    assert run.code == 1
    doc = run.json()
    assert doc["ok"] is False and doc["datasets"] == 4
    found = {(p["key"], p["code"]) for p in doc["problems"]}
    assert (A.record_key("2024-01-01"), "record-sha256-mismatch") in found
    assert (B.record_key("2024-01-01"), "record-missing-data") in found
    assert (C.latest_key, "latest-missing-data") in found
    # the deleted version was read by gamma: its audit object and gamma's record say so
    assert (B.audit_key("2024-01-01", C), "audit-missing-upstream") in found
    assert (C.record_key("2024-01-01"), "record-upstream-missing") in found
    assert (DatasetId("delta", "master").latest_key, "latest-unreadable") in found

    people = cli("verify")
    assert people.code == 1
    for text in (A.record_key("2024-01-01"), deleted, C.latest_key, "2024-09-09", "FAILED:"):
        assert text in people.out, text

    # a scope checks one dataset only; the progress bar shows on a terminal (rich reads
    # TTY_COMPATIBLE when the console is made, at import: a new process is needed)
    one = cli_process("verify", "gamma/master", env={"TTY_COMPATIBLE": "1"})
    assert one.code == 1 and "verifying" in one.err
    assert C.latest_key in one.out and A.record_key("2024-01-01") not in one.out
    assert cli("verify", "alpha", "--json").json()["datasets"] == 1
