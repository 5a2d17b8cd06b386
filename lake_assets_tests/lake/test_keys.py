"""Object keys of spec §3: names quoted so no key can leave its dataset's prefix."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from lake_assets.lake.contract.errors import InvalidName, LakeError
from lake_assets.lake.contract.keys import DatasetId, dataset_of_prefix, date_of_data_key
from lake_assets.lake.contract.names import branch_problem, quote_name
from lake_assets.lake.storage.local import LocalStore
from lake_assets.lake.storage.s3 import S3Store


def test_spec_keys_with_a_slash_in_the_branch() -> None:
    ds = DatasetId("flights", "feature/x")
    up = DatasetId("weather", "master")
    assert ds.data_key("2024-01-02") == "asset/flights/feature%2Fx/data/2024-01-02.csv.gz"
    assert ds.latest_key == "asset/flights/feature%2Fx/metadata/latest"
    assert ds.record_key("2024-01-02") == (
        "dependency/flights/feature%2Fx/2024-01-02/metadata/2024-01-02.json"
    )
    assert up.audit_key("2024-01-01", ds) == (
        "dependency/weather/master/2024-01-01/downstreams/flights%2Ffeature%2Fx"
    )
    assert up.registration_key(ds) == "dependency/weather/master/downstreams/flights%2Ffeature%2Fx"


def test_names_without_special_characters_are_unchanged() -> None:
    ds = DatasetId("A-1.2_x", "v1.2")
    assert ds.data_key("2024-01-02") == "asset/A-1.2_x/v1.2/data/2024-01-02.csv.gz"


def _random_branches(n: int) -> list[str]:
    rng = random.Random(7)
    alphabet = "ab./-_@{}~^:?*[\\ \x01\x7fHEADlockü%"
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(n)]


def test_no_key_escapes_its_prefix() -> None:
    """Every valid name yields keys with exactly the spec's segments; every invalid one is
    refused before a key exists."""
    valid = 0
    for branch in _random_branches(3000):
        if branch_problem(branch):
            with pytest.raises(InvalidName):
                DatasetId("r", branch)
            continue
        valid += 1
        ds = DatasetId("r", branch)
        keys = {
            ds.data_key("2024-01-01"): 5,
            ds.latest_key: 5,
            ds.registration_key(ds): 5,
            ds.record_key("2024-01-01"): 6,
            ds.audit_key("2024-01-01", ds): 6,
        }
        for key, depth in keys.items():
            parts = key.split("/")
            assert len(parts) == depth, key
            assert parts[1:3] == ["r", quote_name(branch)], key
            assert all(p not in ("", ".", "..") for p in parts), key
        assert dataset_of_prefix("r", ds.data_key("2024-01-01").split("/")[2]) == ds
    assert valid > 100


@pytest.mark.parametrize("key", ["", "/etc/passwd", "../x", "a/../../x", "asset/.."])
def test_stores_refuse_escaping_keys(key: str, tmp_path: Path) -> None:
    local = LocalStore(tmp_path / "lake")
    s3 = S3Store("bucket", "lake", endpoint_url="http://127.0.0.1:9")
    for store in (local, s3):
        with pytest.raises(LakeError, match="escapes the lake root"):
            store.put(key, b"x")
        with pytest.raises(LakeError, match="escapes the lake root"):
            store.get(key)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("name", "date"),
    [
        ("asset/r/b/data/2024-01-01.csv.gz", "2024-01-01"),
        ("2024-02-29.csv.gz", "2024-02-29"),
        ("asset/r/b/data/2013-02-30.csv.gz", None),
        ("asset/r/b/data/2024-01-01.csv", None),
        ("asset/r/b/data/.2024-01-01.csv.gz.1234.tmp", None),
        ("asset/r/b/data/notes.txt", None),
    ],
)
def test_date_of_data_key(name: str, date: str | None) -> None:
    assert date_of_data_key(name) == date


def test_date_of_accepts_only_the_dataset_own_data_objects() -> None:
    ds = DatasetId("flights", "feature/x")
    assert ds.date_of(ds.data_key("2013-01-02")) == "2013-01-02"
    assert ds.date_of(f"{ds.data_prefix}old/2013-01-02.csv.gz") is None  # nested below data/
    assert ds.date_of(f"{ds.data_prefix}2013-02-30.csv.gz") is None  # not a calendar date
    assert ds.date_of(f"{ds.data_prefix}2013-01-02.csv") is None
    assert ds.date_of(DatasetId("flights", "master").data_key("2013-01-02")) is None
    assert ds.date_of(ds.latest_key) is None
