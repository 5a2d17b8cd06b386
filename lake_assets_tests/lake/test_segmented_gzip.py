"""Segmented data objects: one ordinary gzip member for every reader, parsed a segment per
thread by ours, with the same frame whichever way it is read."""

from __future__ import annotations

import gzip
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lake_assets.lake import CorruptObject
from lake_assets.lake.codec import columns as colspec
from lake_assets.lake.codec import gzip_csv as codec
from lake_assets.lake.codec import segmented_gzip

from .test_codec import AWKWARD_STRINGS


def awkward_frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    strings = np.array([*AWKWARD_STRINGS, None], dtype=object)
    return pd.DataFrame(
        {
            "n": np.arange(rows),
            "f": rng.random(rows),
            "s": pd.array(strings[rng.integers(0, len(strings), rows)], dtype="str"),
            "t": pd.Timestamp("2024-01-01 08:00:00.123456")
            + pd.to_timedelta(rng.integers(0, 10**6, rows), "s"),
            "maybe": pd.array([None if i % 7 == 0 else i for i in range(rows)], dtype="Int64"),
        }
    )


def typed_decode(encoded: codec.Encoded, df: pd.DataFrame) -> pd.DataFrame:
    types = colspec.column_types(colspec.describe(df))
    return codec.decode(encoded.data, "k", types, encoded.newlines)


def test_many_segments_decode_like_one_stream(small_segments: int) -> None:
    df = awkward_frame(3000)
    encoded = codec.encode(df)
    segments = segmented_gzip.segments(encoded.data)
    assert segments is not None and len(segments) > 20
    text = gzip.decompress(encoded.data)
    view = memoryview(encoded.data)
    pieces = [segmented_gzip.inflate(view, s) for s in segments]
    assert b"".join(pieces) == text
    assert all(p.endswith(b"\n") for p in pieces)  # segments end at row boundaries
    assert all(len(p) < small_segments + 50 * 200 for p in pieces)
    pd.testing.assert_frame_equal(typed_decode(encoded, df), df)


def test_one_column_nulls_across_segments(small_segments: int) -> None:
    """A null in a one-column frame is an empty line, which the parallel parser must keep."""
    df = pd.DataFrame({"s": pd.array(["x", None, "", "y\nz", None] * 600, dtype="str")})
    encoded = codec.encode(df)
    assert len(segmented_gzip.segments(encoded.data) or []) > 1
    pd.testing.assert_frame_equal(typed_decode(encoded, df), df)


def test_header_only_and_no_columns() -> None:
    empty = pd.DataFrame({"a": pd.Series([], dtype="int64"), "b": pd.Series([], dtype="str")})
    pd.testing.assert_frame_equal(typed_decode(codec.encode(empty), empty), empty)
    assert codec.decode(codec.encode(pd.DataFrame()).data, "k").empty


def test_every_gzip_reader_sees_one_whole_member(tmp_path: Path, small_segments: int) -> None:
    df = awkward_frame(2000)
    data = codec.encode(df).data
    text = gzip.decompress(data)
    single = zlib.decompressobj(wbits=31)  # zlib's single-member API, as a foreign script
    assert single.decompress(data) == text and single.eof and not single.unused_data
    path = tmp_path / "part.csv.gz"
    path.write_bytes(data)
    subprocess.run(["gzip", "-t", str(path)], check=True)
    zcat = subprocess.run(["zcat", str(path)], check=True, capture_output=True)
    assert zcat.stdout == text
    foreign = pd.read_csv(path, keep_default_na=False, na_values=[""])
    assert foreign["n"].tolist() == df["n"].tolist()


def test_encoding_is_deterministic(small_segments: int) -> None:
    """Republishing the same frame must give the same bytes: sensors key runs on content."""
    df = awkward_frame(2000)
    assert codec.encode(df).data == codec.encode(df.copy()).data


def test_foreign_and_unindexed_gzip_take_the_serial_path() -> None:
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    foreign = gzip.compress(b'a,b\n1,"x"\n2,"y"\n')
    assert segmented_gzip.segments(foreign) is None
    pd.testing.assert_frame_equal(
        codec.decode(foreign, "k", colspec.column_types(colspec.describe(df))), df
    )


def test_damaged_segment_is_a_corrupt_object(small_segments: int) -> None:
    df = awkward_frame(2000)
    encoded = codec.encode(df)
    segments = segmented_gzip.segments(encoded.data)
    assert segments is not None
    middle = segments[len(segments) // 2]
    damaged = bytearray(encoded.data)
    damaged[(middle.start + middle.end) // 2] ^= 0x55
    with pytest.raises(CorruptObject, match="k is not a valid gzip file"):
        codec.decode(bytes(damaged), "k", colspec.column_types(colspec.describe(df)), True)


def test_index_that_does_not_tile_the_stream_is_ignored(small_segments: int) -> None:
    """A truncated object's index no longer adds up: it is read serially, and fails there."""
    df = awkward_frame(2000)
    data = codec.encode(df).data
    assert segmented_gzip.segments(data[:-1]) is None
    assert segmented_gzip.segments(data + b"\0") is None
    with pytest.raises(CorruptObject, match="not a valid gzip file"):
        codec.decode(data[: len(data) // 2], "k", colspec.column_types(colspec.describe(df)))
