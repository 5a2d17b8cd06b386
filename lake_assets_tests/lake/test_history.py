"""Versions of a date are never lost (GROS_SPEC §6): history on replace, `DATE@V` reads."""

from __future__ import annotations

import gzip
import hashlib
import multiprocessing
import signal
from typing import Any

import pandas as pd
import pytest

from lake_assets.lake import DatasetId, Lake
from lake_assets.lake.contract.errors import InvalidUri, MissingDate
from lake_assets.lake.contract.uri import parse_uri
from lake_assets_tests.lake.conftest import run_python
from lake_assets_tests.lake.racers import RACE, START, replacer
from lake_assets_tests.raw_lake import RawLake
from lake_assets_tests.s3_requests import watching_requests

DS = DatasetId("flights", "master")
DAY = "2024-01-02"


def frames() -> list[pd.DataFrame]:
    return [pd.DataFrame({"id": [i, i + 1], "name": [f"v{i}", "é, ü"]}) for i in range(3)]


def republished(lake: Lake) -> list[str]:
    """DAY published three times; the sha256 of each version, oldest first."""
    return [lake.publish(df, DS, DAY, overwrite=True).sha256 for df in frames()]


def test_every_replace_keeps_the_replaced_version_and_its_record(lake: Lake, raw: RawLake):
    shas = republished(lake)
    history = lake.history(DS, DAY)
    assert [v.sha256 for v in history] == shas
    assert [v.current for v in history] == [False, False, True]
    for v in history[:-1]:
        kept = raw.get(DS.version_key(DAY, v.sha256))
        assert hashlib.sha256(kept).hexdigest() == v.sha256
        assert v.record is not None and v.record.gros_ref.sha256 == v.sha256
        assert raw.get(DS.version_record_key(DAY, v.sha256))
    # Readers of spec §3 and §4 see the current version where they always did.
    assert hashlib.sha256(raw.get(DS.data_key(DAY))).hexdigest() == shas[-1]
    assert lake.record(DS, DAY).gros_ref.sha256 == shas[-1]
    # The same bytes again supersede nothing.
    lake.publish(frames()[-1], DS, DAY, overwrite=True)
    assert [v.sha256 for v in lake.history(DS, DAY)] == shas


def test_a_version_reads_by_index_and_by_sha256_prefix(lake: Lake):
    shas = republished(lake)
    for i, (df, sha) in enumerate(zip(frames(), shas, strict=True)):
        for tag in (f"{DAY}@{i}", f"{DAY}@{i - 3}", f"{DAY}@{sha[:8]}", f"{DAY}@{sha.upper()}"):
            pd.testing.assert_frame_equal(lake.read(f"gros://flights:{tag}"), df)
            assert lake.resolve(f"gros://flights:{tag}").sha256 == sha
    with pytest.raises(MissingDate, match=r"index 3 is out of range; 2024-01-02 has 3"):
        lake.read(f"gros://flights:{DAY}@3")
    with pytest.raises(MissingDate, match="no version of 2024-01-02 has a sha256 starting"):
        lake.read(f"gros://flights:{DAY}@00000000")
    with pytest.raises(MissingDate, match="has no data for 2024-01-03"):
        lake.read("gros://flights:2024-01-03@0")


def test_a_version_reads_in_a_fresh_interpreter_through_pandas(lake: Lake, lake_url: str):
    shas = republished(lake)
    code = (
        "import pandas as pd\n"
        f"df = pd.read_csv('gros://flights:{DAY}@{shas[0][:10]}', "
        f"storage_options={{'lake_url': {lake_url!r}}})\n"
        "print(df.to_dict('list'))"
    )
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(frames()[0].to_dict("list"))


def test_records_name_versions_that_still_resolve(lake: Lake):
    first = lake.publish(frames()[0], DS, DAY, upstreams=[])
    down = DatasetId("report", "master")
    lake.publish(frames()[1], down, DAY, upstreams=[first])
    lake.publish(frames()[2], DS, DAY, overwrite=True)
    named = lake.record(down, DAY).upstreams[0]
    assert named.sha256 == first.sha256
    assert lake.locate(named) == DS.version_key(DAY, first.sha256)
    assert lake.read(f"gros://flights:{DAY}@{named.sha256[:8]}").equals(frames()[0])


def test_a_foreign_in_place_overwrite_keeps_no_history_but_reads_on(lake: Lake, raw: RawLake):
    lake.publish(frames()[0], DS, DAY)
    raw.put(DS.data_key(DAY), gzip.compress(b"id,name\n9,z\n"))
    history = lake.history(DS, DAY)
    assert len(history) == 1 and history[0].current and history[0].record is None
    assert lake.read(f"gros://flights:{DAY}@-1")["id"].tolist() == [9]
    lake.publish(frames()[1], DS, DAY, overwrite=True)
    assert lake.read(f"gros://flights:{DAY}@0")["id"].tolist() == [9]


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("gros://x:latest@1", "'@' may follow only a YYYY-MM-DD date"),
        ("gros://x:-1@1", "'@' may follow only a YYYY-MM-DD date"),
        ("gros://x:2024-01-02@abc", "neither a signed integer index nor a sha256 prefix"),
        ("gros://x:2024-01-02@", "neither a signed integer index nor a sha256 prefix"),
        ("gros://x:2024-01-02@1.5", "neither a signed integer index nor a sha256 prefix"),
    ],
)
def test_bad_versions_are_named(uri: str, message: str):
    with pytest.raises(InvalidUri, match=message):
        parse_uri(uri)


def test_version_tags_parse_and_print_back():
    assert str(parse_uri("gros://x:2024-01-02@-2")) == "gros://x/master:2024-01-02@-2"
    assert parse_uri("gros://x:2024-01-02@DEADBEEF").version == "deadbeef"
    assert parse_uri("gros://x:2024-01-02@12345678").version == "12345678"  # a sha prefix


KILLED_REPLACE = """
import os, signal, sys
import pandas as pd
from lake_assets.lake import DatasetId, Lake
url, kill_at = sys.argv[1], int(sys.argv[2])
lake = Lake.open(url)
store = type(lake.store)
writes = 0
def dying(name):
    real = getattr(store, name)
    def write(self, *args, **kwargs):
        global writes
        writes += 1
        if writes == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(self, *args, **kwargs)
    setattr(store, name, write)
for name in ("put", "put_if", "copy"):
    dying(name)
df = pd.DataFrame({"id": [7, 8], "name": ["new", "ü"]})
lake.publish(df, DatasetId("flights", "master"), "2024-01-02", overwrite=True)
print("writes", writes)
"""


def test_a_replace_killed_at_any_write_loses_nothing(lake: Lake, lake_url: str):
    """Killed before each of the replace's writes in turn: the current version stays whole
    and readable, every version published is held, and a rerun completes."""
    new = pd.DataFrame({"id": [7, 8], "name": ["new", "ü"]})
    shas = republished(lake)[:2]
    lake.publish(frames()[0], DS, DAY, overwrite=True)  # back to the first bytes: no new sha
    done = run_python(f"import sys; sys.argv[1:] = [{lake_url!r}, '0']\n{KILLED_REPLACE}")
    total = int(done.stdout.split()[-1])
    assert total >= 4, done.stderr  # keep data, keep record, data, record, then latest
    for kill_at in range(1, total + 1):
        lake.publish(frames()[kill_at % 2], DS, DAY, overwrite=True)
        before = lake.history(DS, DAY)
        proc = run_python(
            f"import sys; sys.argv[1:] = [{lake_url!r}, '{kill_at}']\n{KILLED_REPLACE}"
        )
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        current = lake.read(f"gros://flights:{DAY}")
        assert current.equals(frames()[kill_at % 2]) or current.equals(new), kill_at
        after = {v.sha256 for v in lake.history(DS, DAY)}
        assert {v.sha256 for v in before} <= after, kill_at
        for v in lake.history(DS, DAY):
            got = lake.read(f"gros://flights:{DAY}@{v.sha256[:12]}")
            assert len(got) == 2, kill_at
        ref = lake.publish(new, DS, DAY, overwrite=True)
        assert lake.read(f"gros://flights:{DAY}").equals(new)
        assert lake.history(DS, DAY)[-1].sha256 == ref.sha256
        assert set(shas) <= {v.sha256 for v in lake.history(DS, DAY)}


def test_two_replacers_racing_lose_no_version(lake_url: str):
    ctx = multiprocessing.get_context("spawn")
    rounds = 8
    barrier = ctx.Barrier(2, timeout=60)
    procs = [ctx.Process(target=replacer, args=(lake_url, me, rounds, barrier)) for me in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
    assert [p.exitcode for p in procs] == [0, 0]
    lake = Lake.open(lake_url)
    seen = set()
    for v in lake.history(RACE, START.isoformat()):
        df = lake.read(f"gros://{RACE}:{START.isoformat()}@{v.sha256[:12]}")
        seen.add((int(df["who"][0]), int(df["round"][0])))
    assert seen == {(me, rnd) for me in (0, 1) for rnd in range(rounds)}


@pytest.mark.parametrize("lake_url", ["s3"], indirect=True)
def test_a_replace_costs_one_server_side_copy_and_small_requests(lake: Lake):
    """Against a first publish, a replace adds one server-side copy of the data object and
    three small requests (read the record, look for a kept copy, keep the record): no data
    bytes pass through the publisher twice."""
    sent: list[str] = []

    def seen(request: Any) -> None:
        sent.append("copy" if "x-amz-copy-source" in request.headers else request.method)

    df = frames()
    with watching_requests(lake.store.client, seen):
        lake.publish(df[0], DS, DAY)
    first = sorted(sent)
    sent.clear()
    with watching_requests(lake.store.client, seen):
        lake.publish(df[1], DS, DAY, overwrite=True)
    replace = sorted(sent)
    extra = list(replace)
    for k in first:
        extra.remove(k)
    assert sorted(extra) == ["GET", "HEAD", "PUT", "copy"], (first, replace)
    assert replace.count("copy") == 1
