"""Which version a URI names (GROS_SPEC §4), from the pointers and listings alone, and what
the lake records about versions: production records, audits, registrations."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from lake_assets.lake import suggest
from lake_assets.lake.contract.errors import CorruptObject, LakeError, MissingDate, NotFound
from lake_assets.lake.contract.keys import DatasetId, sha256_of_version_key
from lake_assets.lake.contract.names import validate_date
from lake_assets.lake.contract.refs import GrosRef, ProductionRecord
from lake_assets.lake.contract.uri import GrosUri, TagKind, parse_uri
from lake_assets.lake.storage.store import ObjectInfo, Store

SHOWN_DATES = 5


@dataclass(frozen=True)
class Version:
    """One version of a date (spec §6): where its bytes are now and what made it."""

    ref: GrosRef
    key: str
    etag: str
    current: bool
    record: ProductionRecord | None

    @property
    def sha256(self) -> str:
        assert self.ref.sha256 is not None
        return self.ref.sha256


def made_at(created_at: str | None, modified: float | None) -> dt.datetime:
    """When a version was made: its record's `created_at`, else its object's last-modified
    time (spec §6's order of versions)."""
    if created_at:
        try:
            when = dt.datetime.fromisoformat(created_at.replace("Z", "+00:00"))
            return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
        except ValueError:
            pass
    return dt.datetime.fromtimestamp(modified or 0, dt.UTC)


def _version_ref(
    dataset: DatasetId, date: str, sha: str, info: ObjectInfo, record: ProductionRecord | None
) -> GrosRef:
    """A version's ref: its bytes as stored, what its record (if any) says of it."""
    made = record.gros_ref if record else None
    return GrosRef(
        repo=dataset.repo,
        branch=dataset.branch,
        date=date,
        uri=f"gros://{dataset}:{date}@{sha[:12]}",
        sha256=sha,
        bytes=info.size,
        rows=made.rows if made else None,
        created_at=made.created_at if made else made_at(None, info.modified).isoformat(),
    )


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
            case TagKind.DATE if u.version is not None:
                assert u.date is not None
                return self.version(ds, u.date, u.version).ref
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
        if ref.sha256 and ref.uri and "@" in ref.uri:  # a version named by `@V`, found listed
            return ref
        ds = ref.dataset
        info = self.store.head(ds.data_key(ref.date))
        if info is None:
            raise self._missing_data(ref)
        known = ref if ref.sha256 else self._recorded_ref(ds, ref.date) or ref
        if known.bytes is not None and known.bytes != info.size:
            known = ref
        return known.model_copy(update={"uri": ref.version_uri, "bytes": info.size})

    def resolve_key(self, uri: str | GrosUri) -> tuple[GrosRef, str]:
        """`resolve`, and the key of the object it names: the data object, or for `DATE@V`
        the version's, wherever it is kept."""
        u = parse_uri(uri) if isinstance(uri, str) else uri
        if u.version is not None:
            assert u.date is not None
            v = self.version(u.dataset, u.date, u.version)
            return v.ref, v.key
        ref = self.resolve(u)
        return ref, ref.dataset.data_key(ref.date)

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

    def history(self, dataset: DatasetId, date: str) -> list[Version]:
        """Every version of `date` still held, oldest first (spec §6): the superseded ones
        by their record's `created_at` (else the object's last-modified time), then the
        current one. [] when the date was never published."""
        date = validate_date(date)
        current = self._current_version(dataset, date)
        kept = []
        for info in self.store.list(dataset.versions_prefix(date)):
            sha = sha256_of_version_key(info.key)
            if sha is None or (current is not None and sha == current.sha256):
                continue
            record = self._record_at(dataset.version_record_key(date, sha))
            if record is not None and record.gros_ref.sha256 != sha:
                record = None
            ref = _version_ref(dataset, date, sha, info, record)
            kept.append(Version(ref, info.key, info.etag, False, record))
        kept.sort(key=lambda v: (made_at(v.ref.created_at, None), v.sha256))
        return kept + ([current] if current else [])

    def _recorded_version(self, dataset: DatasetId, date: str) -> Version | None:
        """The current version as its record describes it, without looking at the data
        object: right only while the object is still at the record's version token, which a
        conditional request on that token checks."""
        record = self.record(dataset, date)
        made = record.gros_ref if record else None
        if record is None or made is None or not made.sha256 or not record.data_etag:
            return None
        ref = made.model_copy(update={"uri": f"gros://{dataset}:{date}@{made.sha256[:12]}"})
        return Version(ref, dataset.data_key(date), record.data_etag, True, record)

    def _current_version(self, dataset: DatasetId, date: str) -> Version | None:
        """The version in `data/`, its sha256 from the record when the record describes these
        very bytes (its version token matches), else from the bytes themselves."""
        key = dataset.data_key(date)
        record = self.record(dataset, date)
        info = self.store.head(key)
        if info is None:
            return None
        made = record.gros_ref if record else None
        if record is None or made is None or not made.sha256 or record.data_etag != info.etag:
            got = self.store.get_if_changed(key, None)
            if got is None or got is False:
                return None
            data, info = got
            sha = hashlib.sha256(data).hexdigest()
            if made is not None and made.sha256 != sha:
                record, made = None, None
        else:
            sha = made.sha256
        return Version(_version_ref(dataset, date, sha, info, record), key, info.etag, True, record)

    def version(self, dataset: DatasetId, date: str, v: str) -> Version:
        """The version `v` of `date` names: a signed index over `history` or a sha256 prefix."""
        versions = self.history(dataset, date)
        uri = f"gros://{dataset}:{date}@{v}"
        if not versions:
            raise self._no_such(f"{uri}: {dataset} has no data for {date}", dataset)
        listed = ", ".join(
            f"{i - len(versions)} {x.sha256[:12]}" + (" (current)" if x.current else "")
            for i, x in enumerate(versions)
        )
        if v.lstrip("+-").isdigit() and len(v.lstrip("+-")) < 8:
            i = int(v)
            if not -len(versions) <= i < len(versions):
                raise MissingDate(
                    f"{uri}: index {i} is out of range; {date} has {len(versions)} "
                    f"version(s): {listed}"
                )
            return versions[i]
        found = [x for x in versions if x.sha256.startswith(v)]
        if len(found) != 1:
            what = "no version" if not found else f"{len(found)} versions"
            raise MissingDate(f"{uri}: {what} of {date} has a sha256 starting {v}; {listed}")
        return found[0]

    def locate(self, ref: GrosRef) -> str:
        """The key of the exact bytes a GrosRef names by sha256, current or superseded."""
        ds = ref.dataset
        if not ref.sha256:
            return ds.data_key(ref.date)
        for v in self.history(ds, ref.date):
            if v.sha256 == ref.sha256:
                return v.key
        raise NotFound(
            f"the bytes of {ref.version_uri} with sha256 {ref.sha256} are lost: neither "
            f"{ds.data_key(ref.date)} nor {ds.versions_prefix(ref.date)} holds them"
        )

    def _record_at(self, key: str) -> ProductionRecord | None:
        try:
            return ProductionRecord.from_json(self.store.get(key), key)
        except (NotFound, CorruptObject):
            return None

    def readers(self, dataset: DatasetId, date: str) -> dict[str | None, list[GrosRef]]:
        """The downstream versions that read each version (by sha256) of `date`: the audit
        objects name the downstream dates; their records, current or kept, name the bytes.
        Under None, the audited downstream versions whose records name no bytes of it (a
        foreign consumer's): they read `date`, which version is not known."""
        found: dict[str | None, list[GrosRef]] = {}
        for audit in self.downstream_versions(dataset, date):
            named = [
                (v.ref, up.sha256)
                for v in self.history(audit.dataset, audit.date)
                for up in (v.record.upstreams if v.record else ())
                if up.dataset == dataset and up.date == date
            ]
            if not any(sha for _, sha in named):
                found.setdefault(None, []).append(audit)
            for ref, sha in named:
                if sha:
                    found.setdefault(sha, []).append(ref)
        return found
