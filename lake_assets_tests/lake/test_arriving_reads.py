"""Data objects decoded while they arrive: the first segments are parsed before the last
bytes are in, a stream cut short is a store error naming the object, and what is read is
exactly what was published."""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd
import pytest

from lake_assets.lake import DatasetId, Lake, StoreUnavailable
from lake_assets.lake import reading as lake_module
from lake_assets.lake.codec import columns as colspec
from lake_assets.lake.codec import gzip_csv as codec
from lake_assets.lake.codec import segmented_gzip
from lake_assets.lake.storage.arriving import Arriving

from .test_segmented_gzip import awkward_frame

DS = DatasetId("ticks", "master")
DATE = "2024-03-01"


class GatedStream(io.RawIOBase):
    """Hands out `data` but stops after `gate_at` bytes until `gate` is set; can fail there
    instead, or end early, as a dropped connection would."""

    def __init__(
        self, data: bytes, gate_at: int, gate: threading.Event, fail: Exception | None = None
    ) -> None:
        self.data, self.gate_at, self.gate, self.fail = data, gate_at, gate, fail
        self.pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self.pos >= self.gate_at:
            assert self.gate.wait(30), "the test never opened the gate"
            if self.fail is not None:
                raise self.fail
        end = min(self.pos + len(b), len(self.data))
        if self.pos < self.gate_at:
            end = min(end, self.gate_at)
        n = end - self.pos
        b[:n] = self.data[self.pos : end]
        self.pos = end
        return n


def test_first_segments_are_parsed_before_the_rest_arrives(small_segments: int) -> None:
    df = awkward_frame(3000)
    encoded = codec.encode(df)
    segments = segmented_gzip.segments(encoded.data)
    assert segments is not None and len(segments) > 10
    gate = threading.Event()
    source = Arriving(len(encoded.data), "k")
    stream = GatedStream(encoded.data, segments[2].end, gate)
    inflated: list[int] = []
    before_the_rest: list[int] = []  # segments inflated while only the first three had arrived
    real_inflate = segmented_gzip.inflate

    def inflate(data: Any, seg: segmented_gzip.Segment) -> bytes:
        text = real_inflate(data, seg)
        inflated.append(seg.start)
        if not gate.is_set():
            before_the_rest.append(seg.start)
        if seg.start == segments[0].start:
            gate.set()  # the rest arrives only once the first segment is parsed
        return text

    with pytest.MonkeyPatch.context() as mp, ThreadPoolExecutor(1) as filler:
        mp.setattr(segmented_gzip, "inflate", inflate)
        filling = filler.submit(source.fill, stream)
        types = colspec.column_types(colspec.describe(df))
        got = codec.decode(source, "k", types, encoded.newlines)
        filling.result()
    # The gate opens only once the first segment is parsed, so finishing at all shows parsing
    # began before the rest arrived. Segments that had arrived are inflated in parallel, and once
    # the gate opens later ones may finish before them: only what finished before it is checked.
    arrived = {s.start for s in segments[:3]}
    assert segments[0].start in before_the_rest and set(before_the_rest) <= arrived
    assert sorted(inflated) == [s.start for s in segments]
    pd.testing.assert_frame_equal(got, df)


@pytest.mark.parametrize(
    ("fail", "message"),
    [
        (None, r"ticks\.csv\.gz: the store sent \d+ of \d+ bytes"),
        (ConnectionResetError("peer reset"), r"reading it failed: ConnectionResetError"),
    ],
)
def test_a_stream_cut_short_is_a_store_error(
    small_segments: int, fail: Exception | None, message: str
) -> None:
    df = awkward_frame(2000)
    encoded = codec.encode(df)
    gate = threading.Event()
    gate.set()
    cut = len(encoded.data) // 2
    data = encoded.data if fail else encoded.data[:cut]  # a short stream just ends
    source = Arriving(len(encoded.data), "ticks.csv.gz")
    with ThreadPoolExecutor(1) as filler:
        filling = filler.submit(source.fill, GatedStream(data, cut, gate, fail))
        types = colspec.column_types(colspec.describe(df))
        with pytest.raises(StoreUnavailable, match=message):
            codec.decode(source, "ticks.csv.gz", types, encoded.newlines)
        filling.result()  # the filler reports to the waiters, not by raising


def test_a_large_object_is_read_while_it_arrives(
    lake_url: str, small_segments: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Objects over `STREAM_FROM` are filled by a background thread; the frame and the ref
    are those of the published bytes."""
    monkeypatch.setattr(lake_module, "STREAM_FROM", 1024)
    lake = Lake.open(lake_url)
    df = awkward_frame(3000)
    published = lake.publish(df, DS, DATE, upstreams=[])
    assert (published.bytes or 0) > 1024
    fillers: list[str] = []
    real_fill = Arriving.fill

    def fill(self: Arriving, stream: Any) -> None:
        fillers.append(threading.current_thread().name)
        real_fill(self, stream)

    monkeypatch.setattr(Arriving, "fill", fill)
    got, ref = lake.read_with_ref(f"gros://{DS}", partition=DATE)
    pd.testing.assert_frame_equal(got, df)
    assert ref.sha256 == published.sha256 and ref.bytes == published.bytes
    assert fillers and fillers[0].startswith("lake-fetch")


def test_a_connection_lost_mid_object_fails_the_read(
    s3_bucket: str, small_segments: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lake_module, "STREAM_FROM", 1024)
    lake = Lake.open(f"s3://{s3_bucket}/lake")
    lake.publish(awkward_frame(3000), DS, DATE, upstreams=[])
    real_open = lake.store.open_with_info

    def dropping(key: str) -> Any:
        got = real_open(key)
        if got is None or not key.endswith(".csv.gz"):
            return got
        body, info = got
        whole = body.read()
        gate = threading.Event()
        gate.set()
        return GatedStream(whole, info.size // 3, gate, ConnectionResetError("reset")), info

    monkeypatch.setattr(lake.store, "open_with_info", dropping)
    with pytest.raises(StoreUnavailable, match=rf"{DS.data_key(DATE)}: reading it failed"):
        lake.read(f"gros://{DS}", partition=DATE)


def test_a_short_object_read_at_once_is_a_store_error() -> None:
    with pytest.raises(StoreUnavailable, match=r"k: the store sent 3 of 5 bytes"):
        Arriving.read_all(io.BytesIO(b"abc"), 5, "k")
    with pytest.raises(StoreUnavailable, match=r"k: reading it failed: ConnectionResetError"):
        gate = threading.Event()
        gate.set()
        stream = GatedStream(b"abcde", 2, gate, ConnectionResetError("reset"))
        Arriving.read_all(io.BufferedReader(stream), 5, "k")
