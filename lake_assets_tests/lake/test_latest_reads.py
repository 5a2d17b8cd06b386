"""Reads of `latest` by a lake that has read it before: one round trip, never stale."""

from __future__ import annotations

import threading
from typing import Any

import pandas as pd
import pytest

from lake_assets.lake import CorruptObject, DatasetId, Lake
from lake_assets_tests.s3_requests import watching_requests

DS = DatasetId("prices", "master")
URI = f"gros://{DS}"


def frame(value: int) -> pd.DataFrame:
    return pd.DataFrame({"v": [value, value + 1]})


def test_a_reader_follows_every_publish(lake_url: str) -> None:
    """The writer is another Lake, as another process would be."""
    reader, writer = Lake.open(lake_url), Lake.open(lake_url)
    writer.publish(frame(1), DS, "2024-01-01", upstreams=[])
    assert reader.read(URI)["v"].tolist() == [1, 2]
    assert reader.read(f"{URI}:latest")["v"].tolist() == [1, 2]
    writer.publish(frame(10), DS, "2024-01-02", upstreams=[])
    assert reader.read(URI)["v"].tolist() == [10, 11]
    writer.publish(frame(20), DS, "2024-01-02", upstreams=[], overwrite=True)  # new content
    data, ref = reader.fetch_uri(URI)
    assert ref.date == "2024-01-02" and ref.sha256 == writer.resolve(URI).sha256
    assert data == writer.store.get(DS.data_key("2024-01-02"))
    assert reader.read(URI)["v"].tolist() == [20, 21]
    writer.publish(frame(30), DS, "2023-12-31", upstreams=[])  # a backfill: latest stays
    assert reader.read(URI)["v"].tolist() == [20, 21]
    writer.store.delete(DS.latest_key)  # no pointer: the newest date with data
    assert reader.read(URI)["v"].tolist() == [20, 21]
    assert reader.fetch_uri(URI)[1].date == "2024-01-02"


def test_unmoved_pointer_to_missing_data_names_it(lake_url: str) -> None:
    reader, writer = Lake.open(lake_url), Lake.open(lake_url)
    writer.publish(frame(1), DS, "2024-01-01", upstreams=[])
    reader.read(URI)
    writer.store.delete(DS.data_key("2024-01-01"))
    with pytest.raises(CorruptObject, match=r"latest points at 2024-01-01 but .* is missing"):
        reader.read(URI)


def test_repeated_read_overlaps_pointer_and_data(s3_bucket: str) -> None:
    """The second read sends the data GET before the pointer's answer is in: the pointer's
    GET is held until the data GET has been sent, which a sequential read would never do."""
    lake = Lake.open(f"s3://{s3_bucket}/lake")
    lake.publish(frame(1), DS, "2024-01-01", upstreams=[])
    lake.read(URI)
    data_sent = threading.Event()
    sent: list[tuple[str, dict[str, Any]]] = []

    def before_send(request: Any) -> None:
        url = request.url.split("?")[0]
        sent.append((url.rsplit("/", 1)[-1], dict(request.headers)))
        if url.endswith(DS.data_key("2024-01-01").rsplit("/", 1)[-1]):
            data_sent.set()
        elif url.endswith("latest"):
            assert data_sent.wait(10), "the data GET waited for the pointer"

    with watching_requests(lake.store.client, before_send):  # type: ignore[attr-defined]
        assert lake.read(URI)["v"].tolist() == [1, 2]
    names = sorted(name for name, _ in sent)
    assert names == ["2024-01-01.csv.gz", "2024-01-01.json", "latest"]  # data, record, pointer
    assert all("If-None-Match" in headers for name, headers in sent if name == "latest")


def test_a_moved_pointer_is_followed_when_the_data_it_named_is_gone(lake_url: str) -> None:
    """The remembered date's data is fetched before the pointer's answer is in; its absence
    only matters if the pointer has not moved."""
    reader, writer = Lake.open(lake_url), Lake.open(lake_url)
    writer.publish(frame(1), DS, "2024-01-01", upstreams=[])
    reader.read(URI)
    writer.publish(frame(5), DS, "2024-01-02", upstreams=[])
    writer.store.delete(DS.data_key("2024-01-01"))
    assert reader.read(URI)["v"].tolist() == [5, 6]
    assert reader.fetch_uri(URI)[1].date == "2024-01-02"
