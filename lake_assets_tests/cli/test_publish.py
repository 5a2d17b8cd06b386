"""`lake publish FILE URI`: CSV and gzip CSV, parse checks, no silent overwrite."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from lake_assets.lake import DatasetId, Lake
from lake_assets_tests.cli.conftest import RawLake, Run

DS = DatasetId("ext", "feature/y")


def test_publish(cli, lake: Lake, raw: RawLake, tmp_path: Path) -> None:
    plain = tmp_path / "day1.csv"
    plain.write_text('id,name\n1,"a, b"\n2,c\n')
    zipped = tmp_path / "day2.csv.gz"
    zipped.write_bytes(gzip.compress(b"id,name\n3,d\n"))

    out = cli("publish", str(plain), "gros://ext/feature/y:2024-06-01").ok().out
    assert "published gros://ext/feature/y:2024-06-01" in out and "2 rows" in out
    ref = (
        cli(
            "publish",
            "day2.csv.gz",
            "gros://ext/feature/y:2024-06-02",
            "--upstream",
            "gros://ext/feature/y:2024-06-01",
            "--json",
            cwd=tmp_path,
        )
        .ok()
        .json()
    )
    assert ref["rows"] == 1 and ref["date"] == "2024-06-02"

    # The gzip file is stored as is; the plain one is gzipped; both read back through the lake.
    assert raw.get(DS.data_key("2024-06-02")) == zipped.read_bytes()
    assert gzip.decompress(raw.get(DS.data_key("2024-06-01"))) == plain.read_bytes()
    assert lake.read("gros://ext/feature/y:2024-06-01")["name"].tolist() == ["a, b", "c"]
    assert lake.latest_pointer(DS)[0].date == "2024-06-02"
    record = lake.record(DS, "2024-06-02")
    assert [u.date for u in record.upstreams] == ["2024-06-01"]
    assert record.producer["function"] == "lake publish"
    assert [d.date for d in lake.downstream_versions(DS, "2024-06-01")] == ["2024-06-02"]

    before = raw.get(DS.data_key("2024-06-01"))
    refused = cli("publish", str(zipped), "gros://ext/feature/y:2024-06-01").error()
    assert refused == (
        "lake: error: gros://ext/feature/y:2024-06-01 is already published "
        f"({DS.data_key('2024-06-01')} exists); use --force to replace it"
    )
    assert raw.get(DS.data_key("2024-06-01")) == before
    cli("publish", str(zipped), "gros://ext/feature/y:2024-06-01", "--force").ok()
    assert raw.get(DS.data_key("2024-06-01")) == zipped.read_bytes()
    assert lake.latest_pointer(DS)[0].date == "2024-06-02"


@pytest.mark.parametrize("lake_url", ["local"], indirect=True)
def test_publish_rejects_bad_input(cli, lake: Lake, tmp_path: Path) -> None:
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2,3\n")
    cli("publish", str(ragged), "gros://ext/master:2024-06-01").error(
        "ragged.csv is not a valid CSV file"
    )
    cli("publish", str(ragged), "gros://ext/master").error("must name the date")
    cli("publish", str(ragged), "gros://ext/master:latest").error("must name the date")
    cli("publish", str(tmp_path / "nope.csv"), "gros://ext/master:2024-06-01").error(
        "cannot read", "nope.csv"
    )
    bad_gzip = tmp_path / "bad.csv.gz"
    bad_gzip.write_bytes(gzip.compress(b"a,b\n1,2\n")[:-9])
    cli("publish", str(bad_gzip), "gros://ext/master:2024-06-01").error("not a valid gzip")
    assert lake.dates(DatasetId("ext", "master")) == []


PLANTED = """
import io, sys, threading, time
import pyarrow.csv as pacsv
from lake_assets.cli.main import main

class Slow(io.RawIOBase):
    def readable(self):
        return True

    def readinto(self, b):
        time.sleep(0.05)
        b[:4] = b"1,2\\n"
        return 4

# A pyarrow reader thread that needs Python again after the command is done, the way one may
# still be dropping its file object when a short `lake` run ends: it reads forever.
threading.Thread(target=lambda: pacsv.read_csv(Slow()), daemon=True).start()
sys.argv = ["lake", *sys.argv[1:]]
main()
"""


@pytest.mark.parametrize("lake_url", ["local"], indirect=True)
def test_publish_exits_cleanly_while_a_native_reader_runs(
    cli_process, lake_url: str, tmp_path: Path
) -> None:
    """A refused publish ends with its one-line error and exit 1, not an abort at
    interpreter shutdown (this once failed CI as exit 134 after the right error). The first
    publish goes through the installed `lake` script: the entry point's own publish test."""
    plain = tmp_path / "day.csv"
    plain.write_text("id\n1\n")
    published = cli_process("publish", str(plain), "gros://ext/master:2024-06-01").ok().out
    assert published.startswith("published gros://ext/master:2024-06-01: 1 rows")
    args = ["--lake", lake_url, "publish", str(plain), "gros://ext/master:2024-06-01"]
    proc = subprocess.run(
        [sys.executable, "-c", PLANTED, *args], capture_output=True, text=True, timeout=60
    )
    run = Run(proc)
    run.error("is already published", "use --force")
    proc = subprocess.run(
        [sys.executable, "-c", PLANTED, *args, "--force"], capture_output=True, text=True
    )
    assert Run(proc).ok().out.startswith("published gros://ext/master:2024-06-01")
