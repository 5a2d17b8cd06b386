"""Faults: unreachable or missing stores, killed publishers, racing publishers."""

from __future__ import annotations

import json
import multiprocessing
import signal
import textwrap

import pandas as pd
import pytest
from botocore.config import Config

from lake_assets.lake import DatasetId, InvalidUri, Lake, LakeError, StoreUnavailable
from lake_assets_tests.raw_lake import RawLake

from .conftest import run_python
from .racers import RACE, racer, round_dates

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYSECRETKEY"
DS = DatasetId("flights", "feature/x")


def test_unreachable_endpoint_in_process() -> None:
    dead = Lake.open(
        "s3://some-bucket/lake",
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"max_attempts": 1}),
        aws_access_key_id="AKIAEXAMPLE",
        aws_secret_access_key=SECRET,
    )
    for call in (
        lambda: dead.read("gros://flights:latest"),
        lambda: dead.resolve("gros://flights:2024-01-01"),
        lambda: dead.dates(DS),
        lambda: dead.publish(pd.DataFrame({"a": [1]}), DS, "2024-01-01", upstreams=[]),
    ):
        with pytest.raises(StoreUnavailable) as e:
            call()
        message = str(e.value)
        assert "http://127.0.0.1:9" in message and "some-bucket" in message
        assert SECRET not in message


def test_unreachable_endpoint_from_the_environment() -> None:
    """A whole process pointed at a dead endpoint: the error says where, never the secret."""
    code = textwrap.dedent(
        """
        import lake_assets
        try:
            lake_assets.read("gros://flights/feature/x:latest")
        except lake_assets.lake.StoreUnavailable as e:
            print("CAUGHT", e)
        try:
            lake_assets.read("gros://../x")
        except lake_assets.lake.InvalidUri as e:
            print("INVALID", e)
        lake_assets.resolve("gros://flights:2024-01-01")
        """
    )
    out = run_python(
        code,
        env={
            "LAKE_URL": "s3://some-bucket/lake",
            "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9",
            "AWS_SECRET_ACCESS_KEY": SECRET,
        },
    )
    assert out.returncode == 1
    assert "CAUGHT cannot reach the S3 endpoint http://127.0.0.1:9" in out.stdout
    assert "s3://some-bucket/lake" in out.stdout
    assert "INVALID invalid URI 'gros://../x'" in out.stdout
    assert "StoreUnavailable" in out.stderr
    assert SECRET not in out.stdout + out.stderr


def test_missing_bucket(s3_endpoint: str) -> None:
    lake = Lake.open(
        "s3://no-such-bucket-here/lake",
        aws_access_key_id="AKIAEXAMPLE",
        aws_secret_access_key=SECRET,
    )
    for call in (
        lambda: lake.read("gros://flights"),
        lambda: lake.read("gros://flights:2024-01-01"),
        lambda: lake.resolve("gros://flights:2024-01-01"),
        lambda: lake.dates(DS),
        lambda: lake.publish(pd.DataFrame({"a": [1]}), DS, "2024-01-01", upstreams=[]),
    ):
        with pytest.raises(StoreUnavailable) as e:
            call()
        message = str(e.value)
        assert "'no-such-bucket-here' does not exist" in message and s3_endpoint in message
        assert SECRET not in message


@pytest.mark.parametrize(
    ("options", "names"),
    [
        ({"aws_secret_access_key": SECRET}, "missing: aws_access_key_id"),
        ({"endpoint_url": "not a url"}, "endpoint_url 'not a url'"),
        ({"anon": True}, "unknown storage option among ['anon']"),
    ],
)
def test_bad_s3_options(options: dict[str, object], names: str) -> None:
    with pytest.raises(LakeError) as e:
        Lake.open("s3://some-bucket/lake", **options)
    assert names in str(e.value) and "s3://some-bucket/lake" in str(e.value)
    assert SECRET not in str(e.value)


def test_bad_uri_beats_a_dead_store() -> None:
    dead = Lake.open("s3://some-bucket/lake", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(InvalidUri):
        dead.read("gros://r/a..b:latest")


KILLED_PUBLISH = """
import os, signal, sys
import pandas as pd
from lake_assets.lake import DatasetId, Lake
lake = Lake.open(sys.argv[1])
ds = DatasetId("flights", "feature/x")
target = sys.argv[2]
if target == "latest":
    Lake.advance_latest = lambda self, ref: os.kill(os.getpid(), signal.SIGKILL)
else:
    put = type(lake.store).put
    def dying_put(self, key, data):
        if "/metadata/" in key and key.startswith("dependency/"):
            os.kill(os.getpid(), signal.SIGKILL)
        return put(self, key, data)
    type(lake.store).put = dying_put
lake.publish(pd.DataFrame({"n": [2]}), ds, "2024-01-02", upstreams=[])
print("survived")
"""


@pytest.mark.parametrize("killed_before", ["latest", "record"])
def test_publish_killed_before_latest(
    lake: Lake, lake_url: str, raw: RawLake, killed_before: str
) -> None:
    old = lake.publish(pd.DataFrame({"n": [1]}), DS, "2024-01-01", upstreams=[])
    latest_before = raw.get(DS.latest_key)
    out = run_python(f"import sys; sys.argv[1:] = {[lake_url, killed_before]!r}\n{KILLED_PUBLISH}")
    assert out.returncode == -signal.SIGKILL, out.stderr
    assert "survived" not in out.stdout
    assert raw.exists(DS.data_key("2024-01-02"))
    assert raw.exists(DS.record_key("2024-01-02")) == (killed_before == "latest")
    assert raw.get(DS.latest_key) == latest_before
    assert lake.resolve("gros://flights/feature/x") == lake.resolve(old.uri)  # type: ignore[arg-type]
    assert lake.read("gros://flights/feature/x")["n"].tolist() == [1]
    new = lake.publish(pd.DataFrame({"n": [2]}), DS, "2024-01-02", upstreams=[], overwrite=True)
    assert json.loads(raw.get(DS.latest_key))["sha256"] == new.sha256
    assert lake.read("gros://flights/feature/x")["n"].tolist() == [2]


KILLED_WRITES = """
import os, signal, sys
from pathlib import Path
from lake_assets.lake.storage.local import LocalStore
store = LocalStore(Path(sys.argv[1]))
def dying_fsync(fd):
    os.kill(os.getpid(), signal.SIGKILL)
os.fsync = dying_fsync
for key in sys.argv[2:]:
    pid = os.fork()
    if pid == 0:
        store.put(key, b"new content that never lands")
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    print(key, os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL)
"""


@pytest.mark.parametrize("lake_url", ["local"], indirect=True)
def test_local_write_killed_midway_is_never_visible(
    lake: Lake, lake_url: str, raw: RawLake
) -> None:
    lake.publish(pd.DataFrame({"n": [1]}), DS, "2024-01-01", upstreams=[])
    old = raw.get(DS.data_key("2024-01-01"))
    keys = [DS.data_key("2024-01-01"), DS.data_key("2024-01-05")]
    out = run_python(f"import sys; sys.argv[1:] = {[lake_url, *keys]!r}\n{KILLED_WRITES}")
    assert out.stdout.split() == [keys[0], "True", keys[1], "True"], out.stderr
    assert raw.get(DS.data_key("2024-01-01")) == old
    assert not raw.exists(DS.data_key("2024-01-05"))
    leftovers = [k for k in raw.all_keys() if k.endswith(".tmp")]
    assert leftovers and all(k.rsplit("/", 1)[1].startswith(".") for k in leftovers)
    assert lake.dates(DS) == ["2024-01-01"]
    assert all(not o.key.endswith(".tmp") for o in lake.store.list(""))
    assert lake.read("gros://flights/feature/x")["n"].tolist() == [1]


def test_two_processes_racing_on_latest(lake_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    rounds = 25
    barrier = ctx.Barrier(2, timeout=60)
    failures = ctx.Queue()
    procs = [
        ctx.Process(target=racer, args=(lake_url, me, rounds, barrier, failures)) for me in (0, 1)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    found = []
    while not failures.empty():
        found.append(failures.get())
    assert found == []
    lake = Lake.open(lake_url)
    assert lake.resolve(f"gros://{RACE}:latest").date == round_dates(rounds - 1)[1]
    assert len(lake.dates(RACE)) == 2 * rounds
