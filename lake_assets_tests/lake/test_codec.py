"""Exact round-trips of awkward data through publish and read, on both lakes."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import lake_assets
from lake_assets.lake import CorruptObject, DatasetId, Lake
from lake_assets.lake.codec.columns import IntegerType
from lake_assets.lake.codec.gzip_csv import decode
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


FOREIGN = DatasetId("foreign", "master")


def foreign_reads(lake: Lake, raw: RawLake, lake_url: str, text: bytes) -> list[pd.DataFrame]:
    """`text`, gzipped, as a foreign producer's data object (no production record), read by
    pandas, by `Lake.read` and by `lake_assets.read`."""
    data = gzip.compress(text)
    raw.put(FOREIGN.data_key("2024-01-01"), data)
    uri = f"gros://{FOREIGN}:2024-01-01"
    want = pd.read_csv(io.BytesIO(data), compression="gzip")
    return [want, lake.read(uri), lake_assets.read(uri, lake_url=lake_url)]


@pytest.mark.parametrize(
    "text", [b"a,b", b"a,b\n", b"a,b\r\n", b'"a","b"', b"a", b"a\n", b'"a\nb",c']
)
def test_header_without_rows_is_an_empty_frame(
    lake: Lake, raw: RawLake, lake_url: str, text: bytes
) -> None:
    """A header and no rows, with or without a final line break: the empty frame with those
    columns (of the dtype pandas gives an empty column), not CorruptObject."""
    want, *ours = foreign_reads(lake, raw, lake_url, text)
    assert len(want) == 0 and len(want.columns) > 0
    for got in ours:
        pd.testing.assert_frame_equal(got, want)


WIDE = [2**64, -(2**63) - 1, 123456789012345678901234567890]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            b"a,b\n" + b"".join(b"%d,%d\n" % (v, i) for i, v in enumerate(WIDE)), id="ints"
        ),
        pytest.param(b"a,b\n18446744073709551615,1\n0,2\n", id="uint64"),
        pytest.param(b"a,b\n18446744073709551616,1\n,2\n-1,3\n", id="ints-null"),
        pytest.param(b'a\n"-9223372036854775809"\n5\n', id="one-column-quoted"),
        pytest.param(b"a,b\n" + str(10**400).encode() + b",1\n", id="beyond-double"),
        pytest.param(b"a,b\n1e19,1\n2.5,2\n", id="doubles-stay"),
    ],
)
def test_foreign_integers_beyond_int64_stay_exact(
    lake: Lake, raw: RawLake, lake_url: str, text: bytes
) -> None:
    """Integers int64 cannot hold come back as pandas reads them: Python ints in an object
    column (uint64 when all fit one), never doubles that lost digits."""
    want, *ours = foreign_reads(lake, raw, lake_url, text)
    for got in ours:
        pd.testing.assert_frame_equal(got, want)
        assert [type(v) for v in got["a"]] == [type(v) for v in want["a"]]


def test_python_ints_beyond_int64_round_trip(lake: Lake, raw: RawLake) -> None:
    big = [*WIDE, 2**64 - 1, None, 10**80]
    df = pd.DataFrame({"big": pd.Series(big, dtype=object), "n": range(len(big))})
    out = roundtrip(lake, df)
    # a null comes back as pandas reads one in such a column: NaN
    want = df.assign(big=pd.Series([np.nan if v is None else v for v in big], dtype=object))
    pd.testing.assert_frame_equal(out, want)
    assert [type(v) for v in out["big"]] == [int, int, int, int, float, int]
    record = lake.record(DS, "2024-01-01")
    assert record is not None
    assert {c["name"]: c["type"] for c in record.columns} == {"big": "integer", "n": "int64"}
    # and a foreign reader gets them exact too
    data = raw.get(DS.data_key("2024-01-01"))
    pd.testing.assert_frame_equal(pd.read_csv(io.BytesIO(data), compression="gzip"), want)


def test_a_column_recorded_as_integers_must_hold_integers() -> None:
    data = gzip.compress(b'"a","n"\n18446744073709551616,1\n"x",2\n')
    with pytest.raises(CorruptObject, match="'a' is recorded as integers"):
        decode(data, "k.csv.gz", {"a": IntegerType(), "n": pa.int64()})
