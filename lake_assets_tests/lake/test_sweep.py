"""The listing sweep and the day grouping of the cascade, on a local lake and on S3."""

from __future__ import annotations

import pandas as pd

from lake_assets.lake import DatasetId, Lake
from lake_assets.lake.storage.store import ObjectInfo
from lake_assets.lake.watching.cascade import Day, runs
from lake_assets.lake.watching.sweep import Mark, sweep, written_since

DS = DatasetId("flights", "master")


def publish(lake: Lake, date: str, value: int = 1, *, overwrite: bool = False) -> None:
    lake.publish(pd.DataFrame({"v": [value]}), DS, date, upstreams=[], overwrite=overwrite)


def test_a_pass_returns_every_date_first_then_only_what_was_written_since(lake: Lake) -> None:
    for day in ("2013-01-01", "2013-01-02", "2013-01-03"):
        publish(lake, day)
    first = sweep(lake.store, [DS], {}, margin=900).swept[0]
    assert sorted(first.written) == ["2013-01-01", "2013-01-02", "2013-01-03"]
    assert first.written["2013-01-02"] == lake.store.head(DS.data_key("2013-01-02")).etag

    again = sweep(lake.store, [DS], {DS: first.mark}, margin=900).swept[0]
    assert again.written == {}  # nothing written: nothing reported, even inside the margin

    publish(lake, "2013-01-01", value=2, overwrite=True)  # a past date, `latest` untouched
    publish(lake, "2013-01-04")
    third = sweep(lake.store, [DS], {DS: again.mark}, margin=900).swept[0]
    assert sorted(third.written) == ["2013-01-01", "2013-01-04"]
    assert third.mark.watermark >= first.mark.watermark


def test_the_mark_keeps_only_the_margin_and_round_trips_through_json() -> None:
    listing = [
        ObjectInfo(DS.data_key("2013-01-01"), 10, "a", modified=1000.0),
        ObjectInfo(DS.data_key("2013-01-02"), 10, "b", modified=5000.0),
        ObjectInfo(DS.record_key("2013-01-02"), 10, "r", modified=6000.0),  # not a data object
    ]
    swept = written_since(DS, listing, None, margin=100)
    assert swept.mark == Mark(5000.0, {"2013-01-02": "b"})
    assert Mark.from_list(swept.mark.to_list()) == swept.mark
    late = [*listing, ObjectInfo(DS.data_key("2013-01-03"), 10, "c", modified=4950.0)]
    assert written_since(DS, late, swept.mark, margin=100).written == {"2013-01-03": "c"}
    too_late = [*listing, ObjectInfo(DS.data_key("2013-01-03"), 10, "c", modified=4000.0)]
    assert written_since(DS, too_late, swept.mark, margin=100).written == {}


def test_consecutive_days_with_the_same_datasets_share_a_run_up_to_the_batch() -> None:
    a, b = DatasetId("a", "master"), DatasetId("b", "master")
    days = [Day(f"2013-01-0{i}", (a, b), {a: {}}) for i in (1, 2, 3, 5)]
    days.append(Day("2013-01-04", (b,), {b: {}}))
    days.append(Day("2013-01-06", (a, b), {a: {}}, attempt=1))
    grouped = [[d.date for d in g] for g in runs(days, batch=2)]
    assert grouped == [
        ["2013-01-01", "2013-01-02"],
        ["2013-01-03"],
        ["2013-01-04"],  # other datasets
        ["2013-01-05"],  # not next to 2013-01-03
        ["2013-01-06"],  # a retry runs alone
    ]
