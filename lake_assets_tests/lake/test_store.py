"""The store contract, run on a local directory and on S3 (moto's server over HTTP)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lake_assets.lake.contract.errors import LakeError, NotFound
from lake_assets.lake.storage.local import LocalStore
from lake_assets.lake.storage.s3 import S3Store
from lake_assets.lake.storage.store import Store, open_store
from lake_assets_tests.raw_lake import RawLake


@pytest.fixture
def store(lake_url: str) -> Store:
    return open_store(lake_url)


def test_put_get_head_delete(store: Store, raw: RawLake) -> None:
    assert store.head("a/b") is None
    assert store.get_if_changed("a/b", None) is None
    with pytest.raises(NotFound, match="a/b"):
        store.get("a/b")
    with pytest.raises(NotFound, match="a/b"):
        store.open("a/b")
    store.put("a/b", b"hello")
    assert raw.get("a/b") == b"hello"
    assert store.get("a/b") == b"hello"
    with store.open("a/b") as f:
        assert f.read() == b"hello"
    info = store.head("a/b")
    assert info is not None and (info.key, info.size) == ("a/b", 5)
    store.put("a/b", b"bye")
    assert store.get("a/b") == b"bye"
    store.delete("a/b")
    assert store.head("a/b") is None
    store.delete("a/b")


def test_head_of_a_prefix_is_none(store: Store) -> None:
    store.put("dir/obj", b"x")
    assert store.head("dir") is None


def test_list_and_list_dirs(store: Store, raw: RawLake) -> None:
    for key in [
        "asset/r/b/data/2024-01-01.csv.gz",
        "asset/r/b/metadata/latest",
        "asset/r/b%2Fx/data/2024-01-02.csv.gz",
        "asset/rr/b/data/x",
        "top",
    ]:
        store.put(key, key.encode())
    assert sorted(o.key for o in store.list("asset/r/")) == [
        "asset/r/b%2Fx/data/2024-01-02.csv.gz",
        "asset/r/b/data/2024-01-01.csv.gz",
        "asset/r/b/metadata/latest",
    ]
    assert [o.size for o in store.list("asset/r/b/data/")] == [
        len(b"asset/r/b/data/2024-01-01.csv.gz")
    ]
    assert list(store.list("nothing/")) == []
    assert store.list_dirs("asset/") == ["r", "rr"]
    assert store.list_dirs("asset/r/") == ["b", "b%2Fx"]
    assert store.list_dirs("nothing/") == []
    assert sorted(raw.all_keys()) == sorted(o.key for o in store.list(""))


def test_put_if_absent(store: Store) -> None:
    assert store.put_if("k", b"1", etag=None)
    assert not store.put_if("k", b"2", etag=None)
    assert store.get("k") == b"1"


def test_put_if_version(store: Store) -> None:
    store.put("k", b"1")
    got = store.get_if_changed("k", None)
    assert got is not None
    data, info = got
    assert data == b"1"
    assert store.put_if("k", b"2", etag=info.etag)
    assert not store.put_if("k", b"3", etag=info.etag), "a stale version token must lose"
    assert store.get("k") == b"2"
    assert not store.put_if("missing", b"x", etag=info.etag)
    assert store.head("missing") is None


def test_put_if_detects_a_replacement_with_the_same_size(store: Store) -> None:
    """Rewrites that keep the size (and may reuse an inode within one clock tick) still
    change the version token, so a stale writer cannot win."""
    store.put("k", b"aaaa")
    got = store.get_if_changed("k", None)
    assert got is not None
    stale = got[1].etag
    for i in range(20):
        store.put("k", f"b{i:03d}".encode())
        assert not store.put_if("k", b"zzzz", etag=stale)
    assert store.get("k") == b"b019"


@pytest.mark.parametrize(
    ("url", "kind", "where"),
    [
        ("s3://bucket/pre/fix/", S3Store, "s3://bucket/pre/fix"),
        ("s3://bucket", S3Store, "s3://bucket"),
        ("file:///tmp/lake", LocalStore, "/tmp/lake"),
        ("/tmp/lake/", LocalStore, "/tmp/lake"),
    ],
)
def test_open_store_urls(url: str, kind: type, where: str) -> None:
    store = (
        open_store(url, endpoint_url="http://127.0.0.1:9") if kind is S3Store else open_store(url)
    )
    assert isinstance(store, kind)
    assert store.url == where


def test_relative_path_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert open_store("lake").url == str(tmp_path / "lake")


def test_default_lake_when_lake_url_is_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LAKE_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert open_store().url == str(tmp_path / "lake_assets" / "lake")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://", "needs a bucket"),
        ("file://host/x", "local absolute path"),
        ("gs://bucket/x", "unsupported lake URL 'gs://bucket/x'"),
    ],
)
def test_bad_lake_urls(url: str, message: str) -> None:
    with pytest.raises(LakeError, match=message):
        open_store(url)


def test_s3_prefix_isolates_lakes(s3_bucket: str) -> None:
    a = open_store(f"s3://{s3_bucket}/a")
    b = open_store(f"s3://{s3_bucket}/ab")
    a.put("k", b"a")
    assert b.head("k") is None
    assert [o.key for o in a.list("")] == ["k"]
    assert list(b.list("")) == []
