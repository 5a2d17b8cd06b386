"""The public API: lake_assets.read/publish/resolve/dates over the lake LAKE_URL names."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

import lake_assets
from lake_assets.lake import (
    AlreadyPublished,
    DatasetId,
    InvalidName,
    InvalidUri,
    Lake,
    UnknownDataset,
)
from lake_assets_tests.raw_lake import RawLake


def test_publish_read_resolve_dates(lake_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    df = pd.DataFrame({"a": [1, 2], "s": ["x", "y,z"]})
    first = lake_assets.publish(df, "flights", None, dt.date(2024, 1, 1), upstreams=[])
    assert isinstance(first, lake_assets.GrosRef)
    assert (first.repo, first.branch, first.date) == ("flights", "master", "2024-01-01")
    second = lake_assets.publish(df.iloc[:1], "flights", "master", "2024-01-02", upstreams=[])
    assert lake_assets.dates("flights") == ["2024-01-01", "2024-01-02"]
    assert lake_assets.dates("flights", "master") == ["2024-01-01", "2024-01-02"]
    assert lake_assets.resolve("gros://flights").sha256 == second.sha256
    assert lake_assets.resolve("gros://flights:0").sha256 == first.sha256
    pd.testing.assert_frame_equal(lake_assets.read("gros://flights:2024-01-01"), df)
    assert len(lake_assets.read("gros://flights:latest")) == 1
    assert Lake.open(lake_env).dates(first.dataset) == ["2024-01-01", "2024-01-02"]

    monkeypatch.setenv("LAKE_DEFAULT_BRANCH", "main")
    lake_assets.publish(df, "flights", None, "2024-01-03", upstreams=[])
    assert lake_assets.dates("flights") == ["2024-01-03"]
    assert lake_assets.dates("flights", "master") == ["2024-01-01", "2024-01-02"]


def test_upstreams_by_uri_and_from_reads(lake_env: str) -> None:
    df = pd.DataFrame({"a": [1]})
    up = lake_assets.publish(df, "weather", "feature/x", "2024-01-01", upstreams=[])
    down = lake_assets.publish(
        df, "flights", None, "2024-01-01", upstreams=["gros://weather/feature/x"]
    )
    lake = Lake.open(lake_env)
    record = lake.record(down.dataset, "2024-01-01")
    assert record is not None and [u.sha256 for u in record.upstreams] == [up.sha256]
    assert [d.date for d in lake.downstream_versions(up.dataset, "2024-01-01")] == ["2024-01-01"]

    lake_assets.read("gros://weather/feature/x:latest")
    again = lake_assets.publish(df, "flights", None, "2024-01-02")
    record = lake.record(again.dataset, "2024-01-02")
    assert record is not None
    assert [(u.repo, u.branch, u.date) for u in record.upstreams] == [
        ("weather", "feature/x", "2024-01-01")
    ]


def test_storage_options_name_another_lake(lake_env: str, tmp_path: object) -> None:
    other = str(tmp_path) + "/other-lake"  # type: ignore[operator]
    lake_assets.publish(pd.DataFrame({"a": [5]}), "r", None, "2024-01-01", [], lake_url=other)
    assert lake_assets.dates("r", lake_url=other) == ["2024-01-01"]
    assert lake_assets.read("gros://r", lake_url=other)["a"].tolist() == [5]
    with pytest.raises(UnknownDataset, match="the lake holds no datasets"):
        lake_assets.dates("r")


def test_errors(lake_env: str) -> None:
    with pytest.raises(InvalidUri, match="tag 'foo'"):
        lake_assets.read("gros://flights:foo")
    with pytest.raises(InvalidName, match="invalid repo '-x'"):
        lake_assets.publish(pd.DataFrame({"a": [1]}), "-x", None, "2024-01-01")
    with pytest.raises(InvalidName, match=r"invalid branch 'a\.\.b'"):
        lake_assets.dates("flights", "a..b")
    with pytest.raises(UnknownDataset, match="dataset flights/master does not exist"):
        lake_assets.resolve("gros://flights")


def test_publish_refuses_a_published_date_unless_overwrite(lake_env: str) -> None:
    lake = Lake.open(lake_env)
    first = lake_assets.publish(pd.DataFrame({"a": [1]}), "my_repo", "master", "2013-01-02")
    key = first.dataset.data_key("2013-01-02")
    before = lake.store.get(key)
    with pytest.raises(AlreadyPublished) as e:
        lake_assets.publish(pd.DataFrame({"a": [2]}), "my_repo", "master", "2013-01-02")
    assert str(e.value) == (
        "gros://my_repo/master:2013-01-02 is already published "
        f"({key} exists); pass overwrite=True to replace it"
    )
    assert lake.store.get(key) == before
    assert lake_assets.read("gros://my_repo")["a"].tolist() == [1]

    second = lake_assets.publish(
        pd.DataFrame({"a": [2]}), "my_repo", "master", "2013-01-02", overwrite=True
    )
    assert lake_assets.read("gros://my_repo")["a"].tolist() == [2]
    assert lake_assets.resolve("gros://my_repo").sha256 == second.sha256 != first.sha256
    # the conditional first write still records the object's version token, so reads of
    # these very bytes can skip hashing them
    third = lake_assets.publish(pd.DataFrame({"a": [3]}), "my_repo", "master", "2013-01-03")
    record = lake.record(third.dataset, "2013-01-03")
    info = lake.store.head(third.dataset.data_key("2013-01-03"))
    assert record is not None and info is not None and record.data_etag == info.etag


def test_an_empty_branch_is_an_error_not_the_default(lake_env: str, raw: RawLake) -> None:
    """A branch deployment whose branch variable came out empty must never write (or read)
    the default branch: None means the default, "" is an invalid name."""
    with pytest.raises(InvalidName, match="invalid branch ''"):
        lake_assets.publish(pd.DataFrame({"a": [1]}), "r", "", "2024-01-01", [])
    lake_assets.publish(pd.DataFrame({"a": [1]}), "r", None, "2024-01-01", [])
    with pytest.raises(InvalidName, match="invalid branch ''"):
        lake_assets.dates("r", "")
    keys = raw.all_keys()
    assert keys and all("/r/master/" in k for k in keys), keys


def test_a_relative_lake_path_follows_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`Lake.open` shares lakes per root; a relative path names another root after a chdir."""
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        monkeypatch.chdir(tmp_path / name)
        Lake.open("lake").publish(pd.DataFrame({"n": [1]}), DatasetId(name, "master"), "2024-01-01")
    monkeypatch.chdir(tmp_path / "one")
    assert Lake.open("lake").store.url == Lake.open(str(tmp_path / "one" / "lake")).store.url
    assert Lake.open("lake").dates(DatasetId("one", "master")) == ["2024-01-01"]
    assert Lake.open("lake").dates(DatasetId("two", "master")) == []
