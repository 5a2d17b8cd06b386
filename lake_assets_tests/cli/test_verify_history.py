"""`lake verify` and history (GROS_SPEC §6): kept versions must hold the bytes their name
says, and every upstream a record (current or kept) names by sha256 must still be held."""

from __future__ import annotations

import gzip

import pandas as pd

from lake_assets.lake import DatasetId, Lake
from lake_assets_tests.cli.conftest import RawLake

A = DatasetId("flights", "master")
B = DatasetId("report", "master")
DAY = "2024-01-02"


def frame(i: int) -> pd.DataFrame:
    return pd.DataFrame({"id": [i, i + 1]})


def problems(cli, *args: str) -> set[tuple[str, str]]:
    run = cli("verify", "--json", *args)
    assert run.code == 1, run.out + run.err
    return {(p["key"], p["code"]) for p in run.json()["problems"]}


def test_history_verifies_and_lost_versions_are_reported(cli, lake: Lake, raw: RawLake) -> None:
    a = [lake.publish(frame(i), A, DAY, upstreams=[], overwrite=True) for i in range(3)]
    lake.publish(frame(9), B, DAY, upstreams=[a[0]])  # reads a superseded version
    lake.publish(frame(8), B, DAY, upstreams=[a[1]], overwrite=True)  # its record is kept
    doc = cli("verify", "--json").ok().json()
    # 2 data, 2 latest, 3 versions/, 2 records, 3 kept records, 1 audit (per date and reader)
    assert doc["ok"] is True and doc["objects"] == 13 and doc["hashed"] == 5

    # a kept version whose bytes are not what its name says
    raw.put(A.version_key(DAY, a[1].sha256), raw.get(A.version_key(DAY, a[0].sha256)))
    # a kept version deleted: report's kept record names it, and so does flights' kept record
    raw.delete(A.version_key(DAY, a[0].sha256))
    found = problems(cli)
    assert found == {
        (A.version_key(DAY, a[1].sha256), "version-sha256-mismatch"),
        (A.version_record_key(DAY, a[0].sha256), "version-record-missing-data"),
        (B.version_record_key(DAY, lake.history(B, DAY)[0].sha256), "version-record-upstream-lost"),
    }
    people = cli("verify")
    assert people.code == 1 and "FAILED: 3 problems" in people.out
    assert "version-record-upstream-lost" in people.out

    # a current record naming lost bytes, found from a scope that does not list flights
    lake.publish(frame(7), B, DAY, upstreams=[a[0]], overwrite=True)
    assert problems(cli, "report") == {
        (B.version_record_key(DAY, lake.history(B, DAY)[0].sha256), "version-record-upstream-lost"),
        (B.record_key(DAY), "record-upstream-lost"),
    }


def test_a_foreign_overwrite_in_place_loses_the_version_a_record_names(
    cli, lake: Lake, raw: RawLake
) -> None:
    first = lake.publish(frame(0), A, DAY, upstreams=[])
    lake.publish(frame(1), B, DAY, upstreams=[first])
    cli("verify").ok()
    raw.put(A.data_key(DAY), gzip.compress(b"id\n5\n"))  # keeps no history
    found = problems(cli)
    assert (B.record_key(DAY), "record-upstream-lost") in found
    assert (A.record_key(DAY), "record-sha256-mismatch") in found
    message = next(
        p["message"]
        for p in cli("verify", "--json").json()["problems"]
        if p["code"] == "record-upstream-lost"
    )
    assert first.sha256 in message and A.versions_prefix(DAY) in message


def test_a_bad_name_under_versions_is_reported(cli, lake: Lake, raw: RawLake) -> None:
    lake.publish(frame(0), A, DAY, upstreams=[])
    stray = f"{A.versions_prefix(DAY)}not-a-sha.csv.gz"
    raw.put(stray, b"x")
    assert problems(cli) == {(stray, "bad-version-name")}
