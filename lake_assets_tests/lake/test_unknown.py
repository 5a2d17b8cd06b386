"""Errors that lead somewhere: a misspelled dataset is UnknownDataset naming the closest
names, a date the dataset lacks is MissingDate listing its dates, and a read that finds its
data never pays for either. Each test runs on both lakes."""

from __future__ import annotations

import pandas as pd
import pytest

import lake_assets
from lake_assets.lake import DatasetId, Lake, MissingDate, NotFound, UnknownDataset
from lake_assets_tests.raw_lake import RawLake

FLIGHTS = DatasetId("nyc_flights", "master")
DAY = "2013-01-01"


@pytest.fixture
def lake_with_flights(lake: Lake) -> Lake:
    df = pd.DataFrame({"n": [1]})
    for ds in (FLIGHTS, DatasetId("nyc_flights", "feature/x"), DatasetId("airlines", "master")):
        lake.publish(df, ds, DAY, upstreams=[])
    return lake


class CountingStore:
    """The real store, counting the listings made through it."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.listings: list[str] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def list_dirs(self, prefix: str) -> list[str]:
        self.listings.append(prefix)
        return self.inner.list_dirs(prefix)  # type: ignore[attr-defined]


def test_an_unknown_repo_names_the_closest(lake_with_flights: Lake) -> None:
    lake = lake_with_flights
    expected = (
        f"dataset nyc_flight/master does not exist in {lake.store.url}; did you mean nyc_flights?"
    )
    for tag in ("", ":latest", ":2013-01-01", ":-1", ":0"):
        for call in (lake.read, lake.resolve):
            with pytest.raises(UnknownDataset) as e:
                call(f"gros://nyc_flight{tag}")
            assert str(e.value) == expected, tag
            assert isinstance(e.value, NotFound) and isinstance(e.value, FileNotFoundError)
    with pytest.raises(UnknownDataset, match="did you mean nyc_flights"):
        lake.read("gros://NYC_Flights")  # case does not hide the match


def test_an_unknown_repo_with_nothing_close_lists_the_repos(
    lake_with_flights: Lake, lake_url: str
) -> None:
    with pytest.raises(UnknownDataset) as e:
        lake_with_flights.read("gros://zzz")
    assert str(e.value).endswith("; its repos: airlines, nyc_flights")
    with pytest.raises(UnknownDataset, match="the lake holds no datasets"):
        Lake.open(f"{lake_url}-empty").read("gros://zzz")


def test_a_wrong_branch_lists_the_branches(lake_with_flights: Lake) -> None:
    lake = lake_with_flights
    with pytest.raises(UnknownDataset) as e:
        lake.read("gros://nyc_flights/mastr")
    assert str(e.value) == (
        f"dataset nyc_flights/mastr does not exist in {lake.store.url}; branches of "
        "nyc_flights: feature/x, master; did you mean nyc_flights/master?"
    )
    with pytest.raises(UnknownDataset) as e:
        lake.resolve("gros://nyc_flights/release:2013-01-01")
    assert str(e.value).endswith("branches of nyc_flights: feature/x, master")


def test_many_branches_are_cut_short(lake: Lake, raw: RawLake) -> None:
    for i in range(13):
        raw.put(f"asset/big/b{i:02d}/data/{DAY}.csv.gz", b"")
    with pytest.raises(UnknownDataset) as e:
        lake.read("gros://big/nope")
    assert "branches of big: b00, b01, b02, b03, b04, b05, b06, b07, b08, b09 and 3 more" in str(
        e.value
    )


def test_a_missing_date_is_not_an_unknown_dataset(lake_with_flights: Lake) -> None:
    lake = lake_with_flights
    for uri in ("gros://nyc_flights:2099-01-01", "gros://nyc_flights:5"):
        with pytest.raises(MissingDate) as e:
            lake.read(uri)
        assert not isinstance(e.value, UnknownDataset)
        assert "nyc_flights/master has 1 date, the newest: 2013-01-01" in str(e.value)
    with pytest.raises(UnknownDataset):
        lake.read("gros://nyc_flight:2099-01-01")


def test_dates_of_an_unknown_dataset_raise(lake_env: str, raw: RawLake) -> None:
    lake_assets.publish(pd.DataFrame({"n": [1]}), "nyc_flights", None, DAY, upstreams=[])
    assert lake_assets.dates("nyc_flights") == [DAY]
    with pytest.raises(UnknownDataset, match=r"did you mean nyc_flights\?"):
        lake_assets.dates("nyc_flight")
    with pytest.raises(UnknownDataset, match="branches of nyc_flights: master"):
        lake_assets.dates("nyc_flights", "feature/y")
    # a dataset with objects but no data object (a foreign producer's leftovers) exists
    raw.put("asset/husk/master/metadata/notes.txt", b"no data yet")
    assert lake_assets.dates("husk") == []
    # the protocol's own `dates` stays quiet: a sensor asks about datasets not yet published
    assert Lake.open(lake_env).dates(DatasetId("nyc_flight", "master")) == []


def test_found_reads_list_nothing(lake_with_flights: Lake) -> None:
    """Naming what exists costs listings, so only a read that already missed makes them."""
    store = CountingStore(lake_with_flights.store)
    lake = Lake(store)  # type: ignore[arg-type]
    for uri in ("gros://nyc_flights", "gros://nyc_flights:2013-01-01", "gros://nyc_flights:-1"):
        lake.read(uri)
        lake.read(uri)
        lake.resolve(uri)
    assert store.listings == []
    with pytest.raises(UnknownDataset):
        lake.read("gros://nyc_flight")
    assert store.listings == ["asset/nyc_flight/master/", "asset/nyc_flight/", "asset/"]
