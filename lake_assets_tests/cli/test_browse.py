"""`lake ls`, `info`, `resolve`, `head` and `cat` against a local lake and moto's S3."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys

import pandas as pd
import pytest

from lake_assets.lake import DatasetId, GrosRef, Lake
from lake_assets_tests.cli.conftest import RawLake, lake_cli

A = DatasetId("sales", "master")
A_FEATURE = DatasetId("sales", "feature/x")
B = DatasetId("report", "master")


def frame(n: int, start: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {"id": range(start, start + n), "note": [f'line {i}\nwith "quotes"' for i in range(n)]}
    )


@pytest.fixture
def seeded(lake: Lake) -> dict[str, GrosRef]:
    refs = {
        "a1": lake.publish(frame(3), A, "2024-01-01", upstreams=[]),
        "a2": lake.publish(frame(5, 10), A, "2024-01-02", upstreams=[]),
        "a3": lake.publish(frame(4, 20), A, "2024-01-03", upstreams=[]),
        "f1": lake.publish(frame(2), A_FEATURE, "2024-02-01", upstreams=[]),
    }
    refs["b3"] = lake.publish(
        frame(1),
        B,
        "2024-01-03",
        upstreams=[refs["a3"], refs["f1"]],
        producer={"function": "reports.daily", "run_id": "run-42", "code_version": "v7"},
    )
    lake.register_downstream(A, refs["b3"], None)
    lake.register_downstream(A_FEATURE, refs["b3"], "latest")
    return refs


def test_ls(cli, seeded: dict[str, GrosRef], lake_url: str) -> None:
    people = cli("ls").ok().out
    assert "datasets in" in people
    for text in ("sales", "report", "feature/x", "2024-01-03", "2024-02-01"):
        assert text in people

    rows = {(r["repo"], r["branch"]): r for r in cli("ls", "--json").ok().json()}
    assert set(rows) == {("sales", "master"), ("sales", "feature/x"), ("report", "master")}
    sales = rows[("sales", "master")]
    assert sales["dates"] == 3 and sales["newest"] == "2024-01-03"
    assert sales["bytes"] == sum(seeded[k].bytes for k in ("a1", "a2", "a3"))
    assert sales["uri"] == "gros://sales/master"

    branches = cli("ls", "sales", "--json").ok().json()
    assert [r["branch"] for r in branches] == ["feature/x", "master"]
    # the installed script, given the lake by LAKE_URL, prints what the in-process run prints
    table = lake_cli("ls", "sales", env={"LAKE_URL": lake_url}).ok().out
    assert table == cli("ls", "sales").ok().out and "feature/x" in table

    one = cli("ls", "sales/master", "--json").ok().json()
    assert len(one) == 1 and one[0]["latest"] == "2024-01-03"
    assert [v["date"] for v in one[0]["versions"]] == ["2024-01-01", "2024-01-02", "2024-01-03"]
    assert one[0]["versions"][0]["bytes"] == seeded["a1"].bytes

    versions = cli("ls", "gros://sales/master").ok().out
    assert "versions of gros://sales/master" in versions
    assert "latest" in versions and "2024-01-01" in versions


def test_info_and_resolve(cli, seeded: dict[str, GrosRef], lake_url: str) -> None:
    b3 = seeded["b3"]
    doc = cli("info", "gros://report", "--json").ok().json()
    assert doc["resolved"] == "gros://report/master:2024-01-03"
    assert doc["key"] == "asset/report/master/data/2024-01-03.csv.gz"
    assert doc["url"] == f"{lake_url.rstrip('/')}/{doc['key']}"
    assert doc["ref"]["sha256"] == b3.sha256 and doc["ref"]["rows"] == 1
    assert doc["ref"]["bytes"] == b3.bytes and doc["ref"]["created_at"] == b3.created_at
    producer = doc["record"]["producer"]
    assert producer["function"] == "reports.daily" and producer["run_id"] == "run-42"
    assert "pandas" in producer["versions"]
    ups = {u["uri"] for u in doc["record"]["upstreams"]}
    assert ups == {"gros://sales/master:2024-01-03", "gros://sales/feature/x:2024-02-01"}

    upstream = cli("info", "gros://sales/feature/x:2024-02-01", "--json").ok().json()
    assert [r["uri"] for r in upstream["read_by"]] == ["gros://report/master:2024-01-03"]
    registered = upstream["registered_downstreams"]
    assert [(r["repo"], r["branch"], r["tag"]) for r in registered] == [
        ("report", "master", "latest")
    ]

    people = cli("info", "gros://report:latest").ok().out
    for text in (b3.sha256, "reports.daily", "run-42", "v7", "sales/feature/x:2024-02-01"):
        assert text in people
    assert "gros://report/master" in cli("info", "gros://sales:2024-01-01").ok().out

    first = cli("resolve", "gros://sales:0", "--json").ok().json()
    assert first["resolved"] == "gros://sales/master:2024-01-01"
    assert first["key"] == "asset/sales/master/data/2024-01-01.csv.gz"
    assert first["ref"]["sha256"] == seeded["a1"].sha256
    people = cli("resolve", "gros://sales/master:-2").ok().out
    assert people.splitlines()[0] == "gros://sales/master:2024-01-02"
    assert "asset/sales/master/data/2024-01-02.csv.gz" in people


def test_head_and_cat(cli, seeded: dict[str, GrosRef], raw: RawLake) -> None:
    text = gzip.decompress(raw.get(A.data_key("2024-01-02"))).decode()
    assert cli("cat", "gros://sales:2024-01-02").ok().out == text
    head = cli("head", "gros://sales:2024-01-02", "-n", "2").ok().out
    # header + 2 records, each spanning two lines because of the quoted newline
    assert head.count("\n") == 1 + 2 * 2
    assert text.startswith(head) and head != text
    assert pd.read_csv(__import__("io").StringIO(head))["id"].tolist() == [10, 11]
    assert cli("head", "gros://sales:2024-01-02", "-n", "0").ok().out == text.splitlines()[0] + "\n"


def test_head_streams_only_the_start(cli, lake: Lake, raw: RawLake) -> None:
    """A data object whose second half is gone: `head` never reads that far, so it works;
    `cat` reads it all, so it fails with one clear line."""
    big = pd.DataFrame({"x": [os.urandom(16).hex() for _ in range(60_000)]})
    ref = lake.publish(big, A, "2024-03-01", upstreams=[])
    key = A.data_key("2024-03-01")
    raw.put(key, raw.get(key)[: ref.bytes // 2])

    head = cli("head", "gros://sales/master:2024-03-01", "-n", "3").ok().out.splitlines()
    assert head == ['"x"', *(f'"{v}"' for v in big["x"][:3])]
    cli("cat", "gros://sales/master:2024-03-01").error(key, "not a valid gzip file")


def test_python_m_entry_point(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lake_assets.cli.main", "--lake", str(tmp_path), "ls", "--json"],
        capture_output=True,
        text=True,
        cwd="/",
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
