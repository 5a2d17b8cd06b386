"""The sha256 a read reports is always that of the bytes it read; it is taken from the
production record only when the store's version token proves they are the recorded bytes."""

from __future__ import annotations

import gzip
import hashlib
from typing import Any

import pandas as pd
import pytest

from lake_assets.lake import DatasetId, Lake
from lake_assets.lake import reading as lake_module
from lake_assets_tests.raw_lake import RawLake

DS = DatasetId("digest", "master")
DATE = "2024-01-01"


class CountingHashlib:
    """`hashlib` as the lake module sees it, counting the digests taken of `size` bytes."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.calls = 0

    def sha256(self, data: Any = b"") -> Any:
        self.calls += len(data) == self.size
        return hashlib.sha256(data)


def test_record_keeps_the_published_version_token(lake: Lake) -> None:
    lake.publish(pd.DataFrame({"x": [1, 2]}), DS, DATE, upstreams=[])
    record = lake.record(DS, DATE)
    info = lake.store.head(DS.data_key(DATE))
    assert record is not None and info is not None and record.data_etag == info.etag


def test_unchanged_object_is_not_hashed_again(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    ref = lake.publish(pd.DataFrame({"x": range(1000)}), DS, DATE, upstreams=[])
    spy = CountingHashlib(ref.bytes or 0)
    monkeypatch.setattr(lake_module, "hashlib", spy)
    df, read = lake.read_with_ref(f"gros://{DS}:{DATE}")
    assert spy.calls == 0
    assert read.sha256 == ref.sha256 and df["x"].tolist() == list(range(1000))


def test_foreign_overwrite_is_hashed(lake: Lake, raw: RawLake) -> None:
    """Another writer replaces the data object and not the record: the read reports the
    sha256 of what it read, and parses it without the record's layout."""
    lake.publish(pd.DataFrame({"x": [1.5, 2.5]}), DS, DATE, upstreams=[])
    body = gzip.compress(b"x,y\n1,a\n2,b\n3,c\n")
    raw.put(DS.data_key(DATE), body)
    df, read = lake.read_with_ref(f"gros://{DS}:{DATE}")
    assert read.sha256 == hashlib.sha256(body).hexdigest()
    assert df.to_dict("list") == {"x": [1, 2, 3], "y": ["a", "b", "c"]}
