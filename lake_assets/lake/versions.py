"""Which version a URI names (GROS_SPEC §4), from the pointers and listings alone, and what
the lake records about versions: production records, audits, registrations."""

from __future__ import annotations

from collections.abc import Sequence

from lake_assets.lake import suggest
from lake_assets.lake.contract.errors import CorruptObject, LakeError, MissingDate, NotFound
from lake_assets.lake.contract.keys import DatasetId
from lake_assets.lake.contract.names import validate_date
from lake_assets.lake.contract.refs import GrosRef, ProductionRecord
from lake_assets.lake.contract.uri import GrosUri, TagKind, parse_uri
from lake_assets.lake.storage.store import ObjectInfo, Store

SHOWN_DATES = 5


class Versions:
    """One lake root's versions. Every method validates names before touching the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

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
        got = self.store.get_if_changed(dataset.latest_key, None)
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
