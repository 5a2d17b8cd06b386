"""Resolving and reading versions (spec §4), including a foreign producer's objects and
every way an object can break the contract. Each test runs on both lakes."""

from __future__ import annotations

import csv
import gzip
import io
import json

import pytest

from lake_assets.lake import (
    CorruptObject,
    DatasetId,
    Lake,
    LakeError,
    MissingDate,
    UnknownDataset,
)
from lake_assets_tests.raw_lake import RawLake

DATES = ["2024-01-01", "2024-01-02", "2024-01-05", "2024-02-01", "2024-02-02", "2024-03-01"]


def foreign_csv(rows: list[list[object]]) -> bytes:
    """A data object made the way another team's script would: stdlib csv and gzip."""
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    return gzip.compress(text.getvalue().encode())


def foreign_publish(raw: RawLake, repo: str, branch: str, date: str, *, latest: bool) -> None:
    quoted = branch.replace("/", "%2F")
    raw.put(
        f"asset/{repo}/{quoted}/data/{date}.csv.gz",
        foreign_csv([["date", "n", "name"], [date, int(date[-2:]), f"v {date}"]]),
    )
    if latest:
        body = {"repo": repo, "branch": branch, "date": date}
        raw.put(f"asset/{repo}/{quoted}/metadata/latest", json.dumps(body).encode())


@pytest.fixture
def foreign(raw: RawLake) -> DatasetId:
    for date in DATES:
        foreign_publish(raw, "ext", "team/x", date, latest=date == "2024-02-02")
    return DatasetId("ext", "team/x")


TAGS = {
    "": "2024-02-02",
    ":latest": "2024-02-02",
    ":2024-01-05": "2024-01-05",
    ":0": "2024-01-01",
    ":1": "2024-01-02",
    ":+1": "2024-01-02",
    ":-1": "2024-03-01",
    ":-2": "2024-02-02",
    ":-6": "2024-01-01",
    ":5": "2024-03-01",
}


def test_foreign_producer_every_tag(lake: Lake, foreign: DatasetId) -> None:
    for tag, date in TAGS.items():
        uri = f"gros://ext/team/x{tag}"
        ref = lake.resolve(uri)
        assert (ref.repo, ref.branch, ref.date) == ("ext", "team/x", date), uri
        assert ref.uri == f"gros://ext/team/x:{date}"
        assert ref.bytes == lake.store.head(foreign.data_key(date)).size  # type: ignore[union-attr]
        df = lake.read(uri).astype({"date": str})
        assert df.to_dict("records") == [{"date": date, "n": int(date[-2:]), "name": f"v {date}"}]


def test_foreign_dates_and_unknown_fields(lake: Lake, raw: RawLake, foreign: DatasetId) -> None:
    assert lake.dates(foreign) == DATES
    extra = {
        "repo": "ext",
        "branch": "team/x",
        "date": "2024-01-02",
        "owner": {"x": 1},
        "schema_version": 9,
        "sha256": None,
    }
    raw.put(foreign.latest_key, json.dumps(extra).encode())
    assert lake.resolve("gros://ext/team/x:latest").date == "2024-01-02"


def test_no_latest_object_means_newest_date(lake: Lake, raw: RawLake) -> None:
    for date in ["2024-01-03", "2024-01-10", "2024-01-02"]:
        foreign_publish(raw, "nolatest", "master", date, latest=False)
    assert lake.resolve("gros://nolatest").date == "2024-01-10"
    assert lake.resolve("gros://nolatest:latest").date == "2024-01-10"
    assert lake.read("gros://nolatest")["n"].tolist() == [10]


def test_other_files_under_data_are_not_dates(lake: Lake, raw: RawLake) -> None:
    foreign_publish(raw, "r", "master", "2024-01-01", latest=False)
    raw.put("asset/r/master/data/README.md", b"notes")
    raw.put("asset/r/master/data/2024-01-09.csv", b"plain")
    raw.put("asset/r/master/data/old/2024-01-05.csv.gz", foreign_csv([["n"], [5]]))
    assert lake.dates(DatasetId("r", "master")) == ["2024-01-01"]
    assert lake.resolve("gros://r:-1").date == "2024-01-01"


def test_missing_date_lists_the_newest_dates(lake: Lake, foreign: DatasetId) -> None:
    for call in (lake.resolve, lake.read):
        with pytest.raises(MissingDate) as e:
            call("gros://ext/team/x:2023-12-31")
        message = str(e.value)
        assert "2023-12-31" in message and "ext/team/x" in message
        assert "2024-03-01, 2024-02-02, 2024-02-01, 2024-01-05, 2024-01-02" in message
        assert "2024-01-01" not in message


def test_index_out_of_range(lake: Lake, foreign: DatasetId) -> None:
    for index in (6, -7, 100):
        expected = rf"index {index} is out of range.*6 dates.*2024-03-01"
        with pytest.raises(MissingDate, match=expected):
            lake.resolve(f"gros://ext/team/x:{index}")


def test_dataset_with_no_data(lake: Lake, raw: RawLake) -> None:
    for tag in ("", ":latest", ":-1", ":0", ":2024-01-01"):
        with pytest.raises(UnknownDataset, match=r"dataset ghost/master does not exist"):
            lake.read(f"gros://ghost{tag}")
    raw.put("asset/ghost/master/data/notes.txt", b"not a date")  # the dataset, with no dates
    for tag in ("", ":latest", ":-1", ":0"):
        with pytest.raises(MissingDate, match=r"dataset ghost/master has no data"):
            lake.read(f"gros://ghost{tag}")
    assert lake.dates(DatasetId("ghost", "master"), missing_ok=False) == []


def test_latest_not_json(lake: Lake, raw: RawLake, foreign: DatasetId) -> None:
    raw.put(foreign.latest_key, b"{not json")
    for call in (lake.resolve, lake.read):
        with pytest.raises(CorruptObject, match=r"asset/ext/team%2Fx/metadata/latest.*GrosRef"):
            call("gros://ext/team/x")
    assert lake.read("gros://ext/team/x:-1")["n"].tolist() == [1]


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"repo": "ext", "branch": "team/x"}, "date"),
        ({"repo": "ext", "branch": "team/x", "date": "2013-02-30"}, "2013-02-30"),
        ({"repo": "other", "branch": "master", "date": "2024-01-01"}, "other/master"),
        ([1, 2], "GrosRef"),
    ],
)
def test_latest_breaking_the_contract(
    lake: Lake, raw: RawLake, foreign: DatasetId, body: object, names: str
) -> None:
    raw.put(foreign.latest_key, json.dumps(body).encode())
    with pytest.raises(CorruptObject) as e:
        lake.resolve("gros://ext/team/x:latest")
    assert foreign.latest_key in str(e.value) and names in str(e.value)


def test_latest_pointing_at_a_missing_data_object(
    lake: Lake, raw: RawLake, foreign: DatasetId
) -> None:
    raw.put(
        foreign.latest_key,
        json.dumps({"repo": "ext", "branch": "team/x", "date": "2025-01-01"}).encode(),
    )
    for call in (lake.resolve, lake.read):
        with pytest.raises(CorruptObject) as e:
            call("gros://ext/team/x")
        assert foreign.latest_key in str(e.value)
        assert foreign.data_key("2025-01-01") in str(e.value)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"date,n\n2024-01-01,1\n", "not a gzip file"),
        (b"\x1f\x8b\x08\x00garbage", "not a valid gzip file"),
        (gzip.compress(b"a,b\n1,2\n", mtime=0)[:-6], "not a valid gzip file"),
        (gzip.compress(b"a,b\n1,2,3\n4\n", mtime=0), "not a valid UTF-8 CSV"),
    ],
)
def test_data_object_breaking_the_contract(
    lake: Lake, raw: RawLake, data: bytes, problem: str
) -> None:
    key = DatasetId("bad", "master").data_key("2024-01-01")
    raw.put(key, data)
    with pytest.raises(CorruptObject) as e:
        lake.read("gros://bad:2024-01-01")
    assert key in str(e.value) and problem in str(e.value)
    assert isinstance(e.value, LakeError)
