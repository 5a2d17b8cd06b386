"""Publishing (spec §3): write order, the `latest` rules and the lineage records."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from lake_assets.lake import DatasetId, GrosRef, Lake, LakeError, lineage
from lake_assets.lake.storage.store import Store
from lake_assets_tests.raw_lake import RawLake

UP = DatasetId("weather", "master")
OTHER = DatasetId("planes", "feature/x")
DOWN = DatasetId("flights", "feature/x")


def frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"n": [n, n + 1], "s": [f"v{n}", "w"]})


def latest_of(raw: RawLake, ds: DatasetId) -> dict:
    return json.loads(raw.get(ds.latest_key))


class SpyStore:
    """The real store, with every write logged in order."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.writes: list[str] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def put(self, key: str, data: bytes) -> str:
        self.writes.append(key)
        return self.inner.put(key, data)

    def put_if(self, key: str, data: bytes, *, etag: str | None) -> str | None:
        self.writes.append(key)
        return self.inner.put_if(key, data, etag=etag)


def test_write_order_and_objects(lake: Lake, raw: RawLake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKE_USER", "alice@example.com")
    up_ref = lake.publish(frame(1), UP, "2024-01-01", upstreams=[])
    spy = SpyStore(lake.store)
    ref = Lake(spy).publish(frame(2), DOWN, "2024-01-02", upstreams=[up_ref])  # type: ignore[arg-type]
    assert spy.writes == [
        "asset/flights/feature%2Fx/data/2024-01-02.csv.gz",
        "dependency/flights/feature%2Fx/2024-01-02/metadata/2024-01-02.json",
        "dependency/weather/master/2024-01-01/downstreams/flights%2Ffeature%2Fx",
        "asset/flights/feature%2Fx/metadata/latest",
    ]
    assert ref.uri == "gros://flights/feature/x:2024-01-02"
    assert ref.rows == 2 and ref.bytes == len(raw.get(DOWN.data_key("2024-01-02")))
    latest = latest_of(raw, DOWN)
    assert latest["repo"] == "flights" and latest["branch"] == "feature/x"
    assert latest["date"] == "2024-01-02" and latest["sha256"] == ref.sha256
    assert latest["created_at"].endswith("+00:00")

    record = json.loads(raw.get(DOWN.record_key("2024-01-02")))
    assert record["gros_ref"]["sha256"] == ref.sha256
    assert [(u["repo"], u["branch"], u["date"]) for u in record["upstreams"]] == [
        ("weather", "master", "2024-01-01")
    ]
    producer = record["producer"]
    assert producer["user"] == "alice@example.com"
    assert {"lake_assets", "pandas"} <= set(producer["versions"])
    audit = json.loads(raw.get(UP.audit_key("2024-01-01", DOWN)))
    assert (audit["repo"], audit["branch"], audit["date"]) == ("flights", "feature/x", "2024-01-02")
    assert lake.downstream_versions(UP, "2024-01-01") == [GrosRef.model_validate(audit)]


def test_producer_fields_from_the_caller(lake: Lake) -> None:
    lake.publish(
        frame(1), UP, "2024-01-01", upstreams=[], producer={"run_id": "r1", "function": None}
    )
    record = lake.record(UP, "2024-01-01")
    assert record is not None
    assert record.producer["run_id"] == "r1" and "function" not in record.producer


def test_latest_never_moves_back(lake: Lake, raw: RawLake) -> None:
    lake.publish(frame(3), UP, "2024-01-03", upstreams=[])
    newest = latest_of(raw, UP)
    lake.publish(frame(1), UP, "2024-01-01", upstreams=[])
    assert latest_of(raw, UP) == newest
    assert lake.dates(UP) == ["2024-01-01", "2024-01-03"]
    assert lake.resolve("gros://weather").date == "2024-01-03"
    assert lake.read("gros://weather:2024-01-01")["n"].tolist() == [1, 2]


def test_republish_same_date_updates_latest(lake: Lake, raw: RawLake) -> None:
    first = lake.publish(frame(1), UP, "2024-01-01", upstreams=[])
    second = lake.publish(frame(10), UP, "2024-01-01", upstreams=[], overwrite=True)
    assert first.sha256 != second.sha256
    assert latest_of(raw, UP)["sha256"] == second.sha256
    resolved = lake.resolve("gros://weather")
    assert (resolved.sha256, resolved.rows) == (second.sha256, 2)
    assert lake.read("gros://weather")["n"].tolist() == [10, 11]


def test_overwrite_false_refuses_an_existing_date(lake: Lake, raw: RawLake) -> None:
    ref = lake.publish(frame(1), UP, "2024-01-01", upstreams=[], overwrite=False)
    before = raw.get(UP.data_key("2024-01-01"))
    with pytest.raises(LakeError, match=r"gros://weather/master:2024-01-01 is already published"):
        lake.publish(frame(2), UP, "2024-01-01", upstreams=[], overwrite=False)
    assert raw.get(UP.data_key("2024-01-01")) == before
    assert latest_of(raw, UP)["sha256"] == ref.sha256


def test_reads_in_a_scope_become_upstreams(lake: Lake, raw: RawLake) -> None:
    lake.publish(frame(1), UP, "2024-01-01", upstreams=[])
    lake.publish(frame(2), UP, "2024-01-02", upstreams=[])
    other = lake.publish(frame(3), OTHER, "2023-12-31", upstreams=[])
    with lineage.scope("step-1"):
        lake.read("gros://weather:2024-01-01")
        lake.read("gros://weather:2024-01-02")
        lake.read("gros://planes/feature/x:latest")
        ref = lake.publish(frame(9), DOWN, "2024-01-02")
    record = lake.record(DOWN, "2024-01-02")
    assert record is not None
    got = {(u.repo, u.branch, u.date) for u in record.upstreams}
    assert got == {
        ("weather", "master", "2024-01-01"),
        ("weather", "master", "2024-01-02"),
        ("planes", "feature/x", "2023-12-31"),
    }  # every version read (spec §5), not only the one at the published date
    assert {u.sha256 for u in record.upstreams if u.repo == "planes"} == {other.sha256}
    assert [d.date for d in lake.downstream_versions(UP, "2024-01-02")] == [ref.date]
    assert [d.date for d in lake.downstream_versions(UP, "2024-01-01")] == [ref.date]
    assert raw.exists(OTHER.audit_key("2023-12-31", DOWN))
    assert lineage.reads("step-1") == []


def test_reads_outside_a_scope_belong_to_the_process(lake: Lake) -> None:
    lake.publish(frame(1), UP, "2024-01-01", upstreams=[])
    with lineage.scope("elsewhere"):
        lake.read("gros://weather")
    lake.publish(frame(2), DOWN, "2024-01-01")
    assert lake.record(DOWN, "2024-01-01").upstreams == []  # type: ignore[union-attr]
    lake.read("gros://weather")
    lake.publish(frame(2), DOWN, "2024-01-02")
    ups = lake.record(DOWN, "2024-01-02").upstreams  # type: ignore[union-attr]
    assert [(u.repo, u.date) for u in ups] == [("weather", "2024-01-01")]


def test_bad_date_writes_nothing(lake: Lake, raw: RawLake) -> None:
    with pytest.raises(LakeError, match="2024-02-30"):
        lake.publish(frame(1), UP, "2024-02-30", upstreams=[])
    assert raw.all_keys() == []
