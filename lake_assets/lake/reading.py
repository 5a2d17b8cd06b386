"""Reading a version (GROS_SPEC §4 and §5): its data object fetched, decoded with the layout
its production record gives, and the read recorded for lineage."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Hashable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lake_assets.lake import lineage
from lake_assets.lake.contract.errors import CorruptObject, LakeError
from lake_assets.lake.contract.keys import DatasetId
from lake_assets.lake.contract.refs import GrosRef, ProductionRecord
from lake_assets.lake.contract.uri import GrosUri, TagKind, parse_uri
from lake_assets.lake.storage.arriving import Arriving
from lake_assets.lake.storage.store import Store
from lake_assets.lake.versions import Version, Versions

# pandas and pyarrow (through the codec) are imported by the methods that decode, so what
# only lists or resolves, like `lake ls` and `lake info`, starts fast.
if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from lake_assets.lake.codec.gzip_csv import Parsed

STREAM_FROM = 4 << 20
"""A data object at least this big is decoded while it arrives; a smaller one is read whole
first, in the caller's thread (a hand-off to a filling thread would cost more)."""
_background: ThreadPoolExecutor | None = None


def _in_background() -> ThreadPoolExecutor:
    """A few threads for fetches that overlap a request; made afresh in a forked child,
    where the parent's threads do not exist."""
    global _background
    if _background is None:
        _background = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lake-fetch")
    return _background


def finish_background() -> None:
    """Wait for the fetches under way: for a process about to end without shutdown."""
    if _background is not None:
        _background.shutdown(wait=True)
        _forget_background()


def _forget_background() -> None:
    global _background
    _background = None


os.register_at_fork(after_in_child=_forget_background)


def _sha256(data: Arriving) -> str:
    return hashlib.sha256(data.whole()).hexdigest()


@dataclass(frozen=True)
class Layout:
    """How to parse one data object: column types, whether values hold line breaks, and the
    sha256 and store version token of the bytes this layout was recorded for."""

    types: dict[str, pa.DataType]
    newlines: bool
    sha256: str | None
    etag: str | None = None


@dataclass(frozen=True)
class Fetched:
    """A version picked and its data object opened (maybe still arriving), with its version
    token and, when asked for, the production record being fetched alongside."""

    ref: GrosRef
    data: Arriving
    etag: str
    record: Future[ProductionRecord | None] | None = None


class Reading(Versions):
    """Reads of one lake root."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self._latest_seen: dict[DatasetId, tuple[GrosRef, str]] = {}
        """Where each dataset's `latest` pointed when this lake last read it, and the
        pointer's version token: see `_pick_and_get`."""

    def _data_of(self, ref: GrosRef, version: Version | None = None) -> tuple[Arriving, str]:
        """The data object of `ref` (or of a `version` of its date) and its version token; a
        missing one is an error that says whether `latest` points at it. A large object
        arrives in the background, so decoding can start on its first segments."""
        key = version.key if version else ref.dataset.data_key(ref.date)
        got = self.store.open_with_info(key)
        if version is not None and version.current and (got is None or got[1].etag != version.etag):
            if got is not None:  # replaced since it was listed: the replacer kept it first
                got[0].close()
            key = ref.dataset.version_key(ref.date, version.sha256)
            got = self.store.open_with_info(key)
        if got is None:
            raise self._missing_data(ref)
        stream, info = got
        if info.size < STREAM_FROM:
            return Arriving.read_all(stream, info.size, key), info.etag
        data = Arriving(info.size, key)
        _in_background().submit(data.fill, stream)
        return data, info.etag

    @staticmethod
    def _was_read(
        u: GrosUri,
        ref: GrosRef,
        got: tuple[int, str, str],
        rows: int | None = None,
        scope: Hashable | None = None,
    ) -> GrosRef:
        """Record a read for lineage (the one place reads are recorded) and return `ref` as
        read: `got` is the bytes' size, sha256 and version token; what the pointer said of
        rows and creation time is kept only when it described these very bytes."""
        size, sha, etag = got
        same = ref.sha256 == sha
        read = GrosRef(
            repo=ref.repo,
            branch=ref.branch,
            date=ref.date,
            uri=ref.version_uri,
            sha256=sha,
            bytes=size,
            rows=rows if rows is not None else (ref.rows if same else None),
            created_at=ref.created_at if same else None,
        )
        lineage.record(read, str(u), scope, etag=etag)
        return read

    def fetch_uri(self, uri: str | GrosUri) -> tuple[memoryview, GrosRef]:
        """The data object a URI names right now, and its completed ref."""
        u = parse_uri(uri) if isinstance(uri, str) else uri
        got = self._pick_and_get(u, None)
        data = got.data.whole()
        return data, self._was_read(u, got.ref, (len(data), _sha256(got.data), got.etag))

    def _pick_and_get(
        self, u: GrosUri, partition: str | None, with_record: bool = False
    ) -> Fetched:
        """The version a URI names, its data object and the object's version token, and
        with `with_record` its production record, fetched alongside on a remote store.

        Reading `latest` takes the pointer, then the data it names: two round trips. When
        this lake has read the pointer before, it asks whether the pointer moved (one
        conditional GET, from another thread) while it fetches the data the pointer named
        then; unmoved, that data is the answer, so a repeated read costs one round trip and
        is never stale. Moved, the fetched data is dropped and the new date read. The data
        GET is the caller's, so it leaves first and its answer is taken in while the small
        pointer's is still coming. On a local disk the two are read one after the other:
        each takes less than a hand-off to another thread."""
        remote = self.store.remote

        def record_of(ref: GrosRef) -> Future[ProductionRecord | None] | None:
            return self._record_alongside(ref) if with_record and remote else None

        reads_latest = u.kind is TagKind.LATEST or (u.kind is TagKind.NONE and partition is None)
        if u.version is not None:
            assert u.date is not None
            version = self.version(u.dataset, u.date, u.version)
            recorded: Future[ProductionRecord | None] = Future()
            recorded.set_result(version.record)
            return Fetched(version.ref, *self._data_of(version.ref, version), recorded)
        if not reads_latest:
            picked = self.pick(u, partition)
            record = record_of(picked)
            return Fetched(picked, *self._data_of(picked), record)
        ds = u.dataset
        seen = self._latest_seen.get(ds)
        if seen is not None:
            ref, etag = seen
            if not remote:
                moved = self.store.get_if_changed(ds.latest_key, etag)
                if moved is False:
                    return Fetched(ref, *self._data_of(ref))
            else:
                asked = _in_background().submit(self.store.get_if_changed, ds.latest_key, etag)
                record = record_of(ref)
                try:
                    data = self._data_of(ref)
                except LakeError as e:
                    lost: LakeError | None = e
                else:
                    lost = None
                moved = asked.result()
                if moved is False:
                    if lost is not None:
                        raise lost
                    return Fetched(ref, *data, record)
            self._latest_seen.pop(ds, None)
            pointer = None if moved is None else self._pointer(ds, *moved)
        else:
            pointer = self.latest_pointer(ds)
        if pointer is None:
            picked = self.pick(u)
        else:
            picked = pointer[0]
            self._latest_seen[ds] = pointer
        record = record_of(picked)
        return Fetched(picked, *self._data_of(picked), record)

    def _record_alongside(self, ref: GrosRef) -> Future[ProductionRecord | None]:
        return _in_background().submit(self._record_if_readable, ref)

    def _record_if_readable(self, ref: GrosRef) -> ProductionRecord | None:
        """The production record, or None when there is none or it does not parse: the
        data is then read by inference, as a foreign producer's would be."""
        try:
            return self.record(ref.dataset, ref.date)
        except CorruptObject:
            return None

    def read(
        self,
        uri: str | GrosUri,
        *,
        partition: str | None = None,
        column_types: Mapping[str, pa.DataType] | None = None,
        scope: Hashable | None = None,
    ) -> pd.DataFrame:
        """Read the version a URI names; the read is recorded for lineage (spec §5)."""
        df, _ = self.read_with_ref(uri, partition=partition, column_types=column_types, scope=scope)
        return df

    def read_with_ref(
        self,
        uri: str | GrosUri,
        *,
        partition: str | None = None,
        column_types: Mapping[str, pa.DataType] | None = None,
        scope: Hashable | None = None,
    ) -> tuple[pd.DataFrame, GrosRef]:
        """Read a version and the ref of exactly what was read, parsed with the layout the
        production record gives."""
        from lake_assets.lake.codec import gzip_csv as codec

        parsed, done = self._decoded(uri, partition, column_types, scope)
        df = codec.to_pandas(parsed)
        return df, done(len(df))

    def read_arrow_with_ref(
        self, uri: str | GrosUri, *, scope: Hashable | None = None
    ) -> tuple[pa.Table, GrosRef]:
        """`read_with_ref` as an Arrow table with the column types the frame would have, for
        engines that take Arrow (DuckDB, Polars) without a pandas copy; recorded the same way."""
        from lake_assets.lake.codec import gzip_csv as codec

        parsed, done = self._decoded(uri, None, None, scope)
        table = codec.to_arrow(parsed)
        return table, done(table.num_rows)

    def _decoded(
        self,
        uri: str | GrosUri,
        partition: str | None,
        column_types: Mapping[str, pa.DataType] | None,
        scope: Hashable | None,
    ) -> tuple[Parsed, Callable[[int], GrosRef]]:
        """The parsed table of a version, and what records the read once its rows are known.
        The bytes are hashed in a thread while they are parsed, unless the store's version
        token shows they are the very bytes the record describes (then its sha256 is theirs).
        They are let go before the caller converts the table."""
        from lake_assets.lake.codec import gzip_csv as codec

        u = parse_uri(uri) if isinstance(uri, str) else uri
        got = self._pick_and_get(u, partition, with_record=column_types is None)
        picked, data = got.ref, got.data
        key = picked.dataset.data_key(picked.date)
        if column_types is not None:
            layout = Layout(dict(column_types), True, None)
        else:
            record = got.record.result() if got.record else self._record_if_readable(picked)
            layout = self._layout(record, data.size)
        known = layout.sha256 if layout.etag is not None and layout.etag == got.etag else None
        hashing = None if known else _in_background().submit(_sha256, data)
        parsed = codec.decode_table(data, key, layout.types, layout.newlines)
        sha = hashing.result() if hashing is not None else known or ""
        if layout.sha256 not in (None, sha):  # the record describes other bytes of that size
            parsed = codec.decode_table(data, key)
        read = (data.size, sha, got.etag)
        del data, got

        def done(rows: int) -> GrosRef:
            return self._was_read(u, picked, read, rows=rows, scope=scope)

        return parsed, done

    @staticmethod
    def _layout(record: ProductionRecord | None, size: int) -> Layout:
        """Column types and line-break flag from the production record, when it describes an
        object of this size (its sha256 is checked once the bytes are hashed)."""
        from lake_assets.lake.codec import columns as colspec

        if record is None or record.gros_ref.bytes not in (None, size):
            return Layout({}, True, None)
        newlines = record.newlines_in_values is not False
        types = colspec.column_types(record.columns)
        return Layout(types, newlines, record.gros_ref.sha256, record.data_etag)
