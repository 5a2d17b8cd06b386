"""Exact round-trips of awkward data through publish and read, on both lakes."""

from __future__ import annotations

import datetime as dt
import gzip
import math

import numpy as np
import pandas as pd
import pytest

from lake_assets.lake import CorruptObject, DatasetId, Lake
from lake_assets_tests.raw_lake import RawLake

DS = DatasetId("awk", "feature/x")
AWKWARD_STRINGS = [
    "a,b",
    'say "hi"',
    "line\nbreak",
    "crlf\r\nend",
    " lead",
    "trail ",
    "NA",
    "null",
    "",
    "N/A",
    "NaN",
    "None",
    "é ü ß",
    "😀 emoji",
    "中文",
    "tab\there",
    "'single'",
    "#hash",
]


def roundtrip(lake: Lake, df: pd.DataFrame, date: str = "2024-01-01") -> pd.DataFrame:
    lake.publish(df, DS, date, upstreams=[])
    return lake.read(f"gros://{DS}:{date}")


def test_floats(lake: Lake) -> None:
    values = [0.1, 1 / 3, 1e300, 5e-324, -0.0, math.inf, -math.inf, math.nan, 2.5e-8, -1.5]
    out = roundtrip(lake, pd.DataFrame({"f": values, "n": range(len(values))}))
    assert out["f"].dtype == np.float64
    got = out["f"].to_numpy()
    for want, have in zip(values, got, strict=True):
        assert (math.isnan(want) and math.isnan(have)) or (
            want == have and math.copysign(1, want) == math.copysign(1, have)
        ), (want, have)


def test_strings_nulls_and_unicode(lake: Lake) -> None:
    df = pd.DataFrame({"s": [*AWKWARD_STRINGS, None], "n": range(len(AWKWARD_STRINGS) + 1)})
    out = roundtrip(lake, df)
    assert out["s"].tolist()[:-1] == AWKWARD_STRINGS
    assert pd.isna(out["s"].iloc[-1])
    pd.testing.assert_frame_equal(out, df)


def test_nullable_ints_bools_and_plain_ints(lake: Lake) -> None:
    df = pd.DataFrame(
        {
            "i": [1, -2, 2**62, 0],
            "ni": pd.array([1, None, -(2**62), 0], dtype="Int64"),
            "b": [True, False, True, False],
            "nb": pd.array([True, None, False, None], dtype="boolean"),
        }
    )
    pd.testing.assert_frame_equal(roundtrip(lake, df), df)


def test_dates_and_timestamps(lake: Lake) -> None:
    df = pd.DataFrame(
        {
            "d": [dt.date(2024, 2, 29), dt.date(1970, 1, 1), None],
            "naive": pd.to_datetime(
                ["2024-01-01 01:02:03.123456", "1999-12-31 23:59:59", None], format="ISO8601"
            ),
            "utc": pd.to_datetime(
                ["2024-01-01T01:02:03.5Z", "2024-06-30T00:00:00Z", None], format="ISO8601"
            ),
        }
    )
    out = roundtrip(lake, df)
    assert out["d"].tolist()[:2] == df["d"].tolist()[:2] and pd.isna(out["d"].iloc[2])
    pd.testing.assert_series_equal(out["naive"], df["naive"].astype("datetime64[us]"))
    pd.testing.assert_series_equal(out["utc"], df["utc"].astype("datetime64[us, UTC]"))


def test_data_object_is_spec_csv(lake: Lake, raw: RawLake) -> None:
    """gzip, UTF-8, one header row, ',' separator, no index column, ISO-8601 dates."""
    df = pd.DataFrame(
        {"d": [dt.date(2024, 1, 2)], "t": pd.to_datetime(["2024-01-02T03:04:05Z"]), "s": ["x"]},
        index=[42],
    )
    lake.publish(df, DS, "2024-01-02", upstreams=[])
    text = gzip.decompress(raw.get(DS.data_key("2024-01-02"))).decode("utf-8")
    header, row = text.splitlines()
    assert header.replace('"', "").split(",") == ["d", "t", "s"]
    assert row.startswith("2024-01-02,2024-01-02")
    assert "42" not in text
    assert pd.Timestamp(row.split(",")[1]) == pd.Timestamp("2024-01-02T03:04:05Z")


def test_empty_frame_without_columns(lake: Lake) -> None:
    ref = lake.publish(pd.DataFrame(), DS, "2024-01-03", upstreams=[])
    assert ref.rows == 0
    out = lake.read(f"gros://{DS}:2024-01-03")
    assert out.shape == (0, 0)


def test_empty_frame_with_columns(lake: Lake) -> None:
    df = pd.DataFrame({"a": pd.Series([], dtype="int64"), "b": pd.Series([], dtype="str")})
    ref = lake.publish(df, DS, "2024-01-04", upstreams=[])
    assert ref.rows == 0
    out = lake.read(f"gros://{DS}:2024-01-04")
    assert list(out.columns) == ["a", "b"] and len(out) == 0


def test_publish_refuses_a_non_frame_and_writes_nothing(lake: Lake, raw: RawLake) -> None:
    with pytest.raises(TypeError, match="DataFrame"):
        lake.publish([{"a": 1}], DS, "2024-01-01")  # type: ignore[arg-type]
    assert raw.all_keys() == []


def test_integral_floats_keep_their_dtype(lake: Lake) -> None:
    df = pd.DataFrame({"f": [1.0, 2.0, -3.0]})
    pd.testing.assert_frame_equal(roundtrip(lake, df), df)


def test_strings_that_look_like_numbers_stay_strings(lake: Lake) -> None:
    df = pd.DataFrame({"zip": ["01234", "99"], "day": ["2024-01-01", "x"], "flag": ["true", "0"]})
    df = df.assign(code=["1", "2"])
    pd.testing.assert_frame_equal(roundtrip(lake, df), df)


def test_empty_frame_keeps_column_dtypes(lake: Lake) -> None:
    df = pd.DataFrame({"a": pd.Series([], dtype="int64"), "f": pd.Series([], dtype="float64")})
    pd.testing.assert_frame_equal(roundtrip(lake, df), df)


def test_all_null_string_column_keeps_its_dtype(lake: Lake) -> None:
    df = pd.DataFrame({"s": pd.Series([None, None], dtype="str"), "n": [1, 2]})
    pd.testing.assert_frame_equal(roundtrip(lake, df), df)


# Known codec bugs, reported to the lead (codec.py is owned elsewhere). strict: when a fix
# lands these XPASS and fail, so the marker goes with the fix.


def test_null_row_of_a_single_column_frame_is_kept(lake: Lake) -> None:
    df = pd.DataFrame({"f": [1.5, None, 2.5]})
    pd.testing.assert_frame_equal(roundtrip(lake, df), df)


def test_data_object_not_utf8_is_corrupt(lake: Lake, raw: RawLake) -> None:
    key = DatasetId("bad", "master").data_key("2024-01-01")
    raw.put(key, gzip.compress(b"a,b\n\xff\xfe,\x80\n"))
    with pytest.raises(CorruptObject, match="UTF-8"):
        lake.read("gros://bad:2024-01-01")


@pytest.mark.parametrize("with_newline", [False, True])
def test_multi_block_frames_round_trip_on_both_parse_paths(lake: Lake, with_newline: bool) -> None:
    """Several MiB of CSV: parsed in parallel blocks when the writer recorded that no value
    holds a line break, serially (quoted line breaks intact) when one does."""
    rng = np.random.default_rng(7)
    n = 120_000
    names = np.char.add("name-", rng.integers(0, 10**6, n).astype(str)).astype(object)
    if with_newline:
        names[n // 2] = 'line one\nline "two", three'
    df = pd.DataFrame(
        {
            "id": np.arange(n),
            "x": rng.random(n),
            "whole": rng.integers(0, 100, n).astype("float64"),
            "name": pd.array(names, dtype="str"),
            "day": pd.Timestamp("2013-01-01") + pd.to_timedelta(rng.integers(0, 365, n), "D"),
            "at": pd.Timestamp("2013-01-01") + pd.to_timedelta(rng.integers(0, 10**9, n), "s"),
        }
    )
    pd.testing.assert_frame_equal(roundtrip(lake, df), df)
    record = lake.record(DS, "2024-01-01")
    assert record is not None and record.newlines_in_values is with_newline
