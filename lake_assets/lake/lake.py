"""The lake: publishing, resolving and reading versions by GROS_SPEC §3 and §4."""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from collections.abc import Hashable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lake_assets.lake import lineage, suggest
from lake_assets.lake.arriving import Arriving
from lake_assets.lake.errors import (
    AlreadyPublished,
    CorruptObject,
    LakeError,
    MissingDate,
    NotFound,
    PublishConflict,
)
from lake_assets.lake.keys import DatasetId
from lake_assets.lake.names import validate_date
from lake_assets.lake.producer import producer as default_producer
from lake_assets.lake.refs import GrosRef, ProductionRecord, utc_now
from lake_assets.lake.store import ObjectInfo, Store, open_store
from lake_assets.lake.uri import GrosUri, TagKind, parse_uri

# pandas and pyarrow (through codec and columns) are imported by the methods that read or
# write data, so what only lists or resolves, like `lake ls` and `lake info`, starts fast.
if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from lake_assets.lake import codec

SHOWN_DATES = 5
_CAS_ATTEMPTS = 50
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


class Lake:
    """One lake root. Every method validates names before touching the store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._latest_seen: dict[DatasetId, tuple[GrosRef, str]] = {}
        """Where each dataset's `latest` pointed when this lake last read it, and the
        pointer's version token: see `_pick_and_get`."""

    @classmethod
    def open(cls, url: str | None = None, **storage_options: Any) -> Lake:
        return cls(open_store(url, **storage_options))

    def __repr__(self) -> str:
        return f"Lake({self.store.url!r})"

    def dates(self, dataset: DatasetId, *, missing_ok: bool = True) -> list[str]:
        """The DATEs that have a data object, oldest first. With `missing_ok=False` a
        dataset the lake does not hold at all is UnknownDataset rather than `[]` (a sensor
        asks about datasets not published yet; a person asking has likely misspelled one)."""
        found = (dataset.date_of(o.key) for o in self.store.list(dataset.data_prefix))
        dates = sorted(d for d in found if d)
        if not dates and not missing_ok and not suggest.exists(self.store, dataset):
            raise suggest.unknown_dataset(self.store, dataset)
        return dates

    def latest_pointer(self, dataset: DatasetId) -> tuple[GrosRef, str] | None:
        """The `latest` object and its version token, or None when there is none."""
        got = self.store.get_with_info(dataset.latest_key)
        return None if got is None else self._pointer(dataset, *got)

    @staticmethod
    def _pointer(dataset: DatasetId, data: bytes, info: ObjectInfo) -> tuple[GrosRef, str]:
        ref = GrosRef.from_json(data, dataset.latest_key)
        if ref.dataset != dataset:
            raise CorruptObject(
                f"{dataset.latest_key} names {ref.dataset}, not the dataset it belongs to"
            )
        return ref, info.etag

    def _no_such(
        self, what: str, dataset: DatasetId, dates: Sequence[str] | None = None
    ) -> NotFound:
        """The error for a version that is not there: UnknownDataset (naming the closest)
        when the lake holds nothing of the dataset, else MissingDate with its newest dates.
        Called only once something is missing, so a read that finds its data lists nothing."""
        dates = self.dates(dataset) if dates is None else dates
        if dates:
            newest = ", ".join(reversed(dates[-SHOWN_DATES:]))
            count = f"{len(dates)} date" + ("s" if len(dates) > 1 else "")
            return MissingDate(f"{what}; {dataset} has {count}, the newest: {newest}")
        if not suggest.exists(self.store, dataset):
            return suggest.unknown_dataset(self.store, dataset)
        return MissingDate(f"{what}: dataset {dataset} has no data (no {dataset.data_prefix}*)")

    def pick(self, uri: str | GrosUri, partition: str | None = None) -> GrosRef:
        """The version a URI names, from the pointers alone (no check that the data exists).

        `partition` is the partition being materialized when a dataset reads this URI as a
        declared upstream: then no tag means that same partition (spec §4's table)."""
        u = parse_uri(uri) if isinstance(uri, str) else uri
        ds = u.dataset
        if u.kind is TagKind.NONE and partition is not None:
            return GrosRef(repo=ds.repo, branch=ds.branch, date=validate_date(partition))
        match u.kind:
            case TagKind.DATE:
                return GrosRef(repo=ds.repo, branch=ds.branch, date=u.date)
            case TagKind.INDEX:
                dates = self.dates(ds)
                assert u.index is not None
                if not -len(dates) <= u.index < len(dates):
                    raise self._no_such(f"index {u.index} is out of range for {ds}", ds, dates)
                return GrosRef(repo=ds.repo, branch=ds.branch, date=dates[u.index])
        pointer = self.latest_pointer(ds)
        if pointer is not None:
            return pointer[0]
        dates = self.dates(ds)
        if not dates:
            raise self._no_such(f"{u} has nothing to read", ds, dates)
        return GrosRef(repo=ds.repo, branch=ds.branch, date=dates[-1])

    def resolve(self, uri: str | GrosUri, partition: str | None = None) -> GrosRef:
        """The version a URI names right now, checked to exist, with what is known of it."""
        ref = self.pick(uri, partition)
        ds = ref.dataset
        info = self.store.head(ds.data_key(ref.date))
        if info is None:
            raise self._missing_data(ref)
        known = ref if ref.sha256 else self._recorded_ref(ds, ref.date) or ref
        if known.bytes is not None and known.bytes != info.size:
            known = ref
        return known.model_copy(update={"uri": ref.version_uri, "bytes": info.size})

    def _missing_data(self, ref: GrosRef) -> LakeError:
        """The error for a version whose data object is absent: a broken `latest` when the
        pointer names it, else a date the dataset does not have."""
        ds = ref.dataset
        if self._latest_date(ds) == ref.date:
            return CorruptObject(
                f"{ds.latest_key} points at {ref.date} but {ds.data_key(ref.date)} is missing"
            )
        return self._no_such(f"{ds} has no data for {ref.date}", ds)

    def _latest_date(self, ds: DatasetId) -> str | None:
        try:
            pointer = self.latest_pointer(ds)
        except CorruptObject:
            return None
        return pointer[0].date if pointer else None

    def _recorded_ref(self, ds: DatasetId, date: str) -> GrosRef | None:
        record = self.record(ds, date)
        return record.gros_ref if record and record.gros_ref.date == date else None

    def record(self, dataset: DatasetId, date: str) -> ProductionRecord | None:
        key = dataset.record_key(date)
        try:
            return ProductionRecord.from_json(self.store.get(key), key)
        except NotFound:
            return None

    def _data_of(self, ref: GrosRef) -> tuple[Arriving, str]:
        """The data object of `ref` and its version token; a missing one is an error that
        says whether `latest` points at it. A large object arrives in the background, so
        decoding can start on its first segments."""
        ds = ref.dataset
        key = ds.data_key(ref.date)
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
    def _completed(ref: GrosRef, size: int, sha: str, rows: int | None = None) -> GrosRef:
        """`ref` as read: the sha256 and size of the bytes; what the pointer said of rows and
        creation time only when it described these very bytes."""
        same = ref.sha256 == sha
        return GrosRef(
            repo=ref.repo,
            branch=ref.branch,
            date=ref.date,
            uri=ref.version_uri,
            sha256=sha,
            bytes=size,
            rows=rows if rows is not None else (ref.rows if same else None),
            created_at=ref.created_at if same else None,
        )

    def fetch_uri(self, uri: str | GrosUri) -> tuple[memoryview, GrosRef]:
        """The data object a URI names right now, and its completed ref."""
        u = parse_uri(uri) if isinstance(uri, str) else uri
        got = self._pick_and_get(u, None)
        data = got.data.whole()
        return data, self._completed(got.ref, len(data), _sha256(got.data))

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
        production record gives. The bytes are hashed in a thread while they are parsed,
        unless the store's version token shows they are the very bytes the record describes
        (then its sha256 is theirs). They are let go before the table becomes a frame."""
        from lake_assets.lake import codec

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
        size, etag = data.size, got.etag
        del data, got
        df = codec.to_pandas(parsed)
        ref = self._completed(picked, size, sha, rows=len(df))
        lineage.record(ref, str(u), scope, etag=etag)
        return df, ref

    @staticmethod
    def _layout(record: ProductionRecord | None, size: int) -> Layout:
        """Column types and line-break flag from the production record, when it describes an
        object of this size (its sha256 is checked once the bytes are hashed)."""
        from lake_assets.lake import columns as colspec

        if record is None or record.gros_ref.bytes not in (None, size):
            return Layout({}, True, None)
        newlines = record.newlines_in_values is not False
        types = colspec.column_types(record.columns)
        return Layout(types, newlines, record.gros_ref.sha256, record.data_etag)

    def publish(
        self,
        df: pd.DataFrame,
        dataset: DatasetId,
        date: str,
        *,
        upstreams: Iterable[GrosRef] | None = None,
        producer: Mapping[str, Any] | None = None,
        overwrite: bool = False,
        scope: Hashable | None = None,
    ) -> GrosRef:
        """Publish `df` as version `date`: data object, production record and audit objects,
        then `latest` (moved only forward). `upstreams=None` takes the reads of the scope.
        A date already published is AlreadyPublished unless `overwrite` (`lake publish
        --force`), so a rerun never replaces a version by accident."""
        from lake_assets.lake import codec
        from lake_assets.lake import columns as colspec

        date = validate_date(date)
        encoded = codec.encode(df)
        ups = (
            lineage.upstreams_for(date, lineage.reads(scope))
            if upstreams is None
            else list(upstreams)
        )
        return self.publish_encoded(
            encoded,
            dataset,
            date,
            upstreams=ups,
            producer=producer,
            overwrite=overwrite,
            columns=colspec.describe(df),
        )

    def publish_encoded(
        self,
        encoded: codec.Encoded,
        dataset: DatasetId,
        date: str,
        *,
        upstreams: Sequence[GrosRef] = (),
        producer: Mapping[str, Any] | None = None,
        overwrite: bool = False,
        columns: list[dict[str, str]] | None = None,
    ) -> GrosRef:
        """`publish` of bytes already encoded. Without `overwrite` the data object is written
        only if absent (one conditional PUT, so two racing first publishers cannot both win)."""
        date = validate_date(date)
        ref = GrosRef(
            repo=dataset.repo,
            branch=dataset.branch,
            date=date,
            uri=f"gros://{dataset}:{date}",
            sha256=encoded.sha256,
            bytes=encoded.size,
            rows=encoded.rows,
            created_at=utc_now(),
        )
        key = dataset.data_key(date)
        if overwrite:
            data_etag = self.store.put(key, encoded.data)
        elif (data_etag := self.store.put_if(key, encoded.data, etag=None)) is None:
            raise AlreadyPublished.of(ref.version_uri, key)
        record = ProductionRecord(
            gros_ref=ref,
            upstreams=list(upstreams),
            producer=default_producer(**(producer or {})),
            columns=columns,
            newlines_in_values=encoded.newlines,
            data_etag=data_etag,
        )
        self.store.put(dataset.record_key(date), record.to_json())
        for up in upstreams:
            self.store.put(up.dataset.audit_key(up.date, dataset), ref.to_json())
        self.advance_latest(ref)
        return ref

    def advance_latest(self, ref: GrosRef) -> bool:
        """Point `latest` at `ref` unless it already holds a newer date. Conditional writes
        make two racing writers end at the newer date. Returns whether `latest` moved."""
        ds = ref.dataset
        for attempt in range(_CAS_ATTEMPTS):
            got = self.store.get_with_info(ds.latest_key)
            etag = None
            if got is not None:
                data, info = got
                etag = info.etag
                try:
                    current: GrosRef | None = GrosRef.from_json(data, ds.latest_key)
                except CorruptObject:
                    current = None
                if current is not None and current.date > ref.date:
                    return False
            if self.store.put_if(ds.latest_key, ref.to_json(), etag=etag) is not None:
                return True
            time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
        raise PublishConflict(f"gave up moving {ds.latest_key} after {_CAS_ATTEMPTS} races")

    def register_downstream(
        self, upstream: DatasetId, downstream: GrosRef, tag: str | None
    ) -> None:
        """Write `upstream`'s registration of a consumer, with the tag it reads by (null for
        no tag): one PUT, so registering thousands stays cheap."""
        key = upstream.registration_key(downstream.dataset)
        body = json.loads(downstream.model_dump_json(exclude_none=True))
        data = json.dumps({**body, "tag": tag}, separators=(",", ":")).encode()
        self.store.put(key, data)

    def downstream_versions(self, dataset: DatasetId, date: str) -> list[GrosRef]:
        """The downstream versions recorded as having read version `date`."""
        found = []
        for info in self.store.list(dataset.audit_prefix(date)):
            found.append(GrosRef.from_json(self.store.get(info.key), info.key))
        return found

    def registrations(self, dataset: DatasetId) -> list[GrosRef]:
        found = []
        for info in self.store.list(dataset.downstreams_prefix):
            found.append(GrosRef.from_json(self.store.get(info.key), info.key))
        return found
