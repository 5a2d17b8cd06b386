"""The integrity checks of `lake verify`, over objects of GROS_SPEC §3 found by listing.

Every `latest` must point at an existing data object with the sha256 and size it states;
every production record must parse and match its data object; every audit object and
registration must parse, sit under the name it states and name versions that exist.
History (spec §6): every `versions/` object must hold the bytes its name's sha256 says, every
kept record must describe the version it is kept with, and every upstream a record names by
sha256 must still be somewhere, in `data/` or in `versions/`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from lake_assets.lake.catalog import Selection, datasets
from lake_assets.lake.contract.errors import CorruptObject, NotFound
from lake_assets.lake.contract.keys import DatasetId, dataset_of_prefix, sha256_of_version_key
from lake_assets.lake.contract.names import validate_date
from lake_assets.lake.contract.refs import GrosRef, ProductionRecord
from lake_assets.lake.lake import Lake
from lake_assets.lake.storage.store import ObjectInfo

_DATE = r"\d{4}-\d{2}-\d{2}"
_RECORD = re.compile(rf"({_DATE})/metadata/({_DATE})\.json")
_AUDIT = re.compile(rf"({_DATE})/downstreams/([^/]+)")
_REGISTRATION = re.compile(r"downstreams/([^/]+)")
_VERSION_RECORD = re.compile(rf"({_DATE})/versions/([0-9a-f]{{64}})\.json")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Problem:
    key: str
    code: str
    message: str


@dataclass
class Listing:
    """One dataset's objects: its data objects by DATE, `latest`, and its dependency objects."""

    dataset: DatasetId
    data: dict[str, ObjectInfo] = field(default_factory=dict)
    latest: ObjectInfo | None = None
    dependency: list[ObjectInfo] = field(default_factory=list)
    bad_data: list[ObjectInfo] = field(default_factory=list)
    versions: dict[tuple[str, str], ObjectInfo] = field(default_factory=dict)
    """Superseded data objects by (DATE, sha256 in their name)."""
    bad_versions: list[ObjectInfo] = field(default_factory=list)

    @property
    def objects(self) -> int:
        return (
            len(self.data)
            + len(self.bad_data)
            + len(self.versions)
            + len(self.bad_versions)
            + len(self.dependency)
            + bool(self.latest)
        )


def scan(lake: Lake, selection: Selection) -> tuple[list[Listing], list[Problem]]:
    """List every object of the selected datasets (for the whole lake, datasets that have
    only dependency objects too); directories that are not dataset names are problems."""
    problems: list[Problem] = []
    found = set(datasets(lake, selection))
    if selection.repo is None:
        for top in ("asset/", "dependency/"):
            for repo_part in lake.store.list_dirs(top):
                for branch_part in lake.store.list_dirs(f"{top}{repo_part}/"):
                    ds = dataset_of_prefix(repo_part, branch_part)
                    if ds is None:
                        problems.append(
                            Problem(
                                f"{top}{repo_part}/{branch_part}/",
                                "bad-dataset-name",
                                "not a valid quoted repo/branch, so no reader can reach it",
                            )
                        )
                    else:
                        found.add(ds)
    return [_list(lake, ds) for ds in sorted(found)], problems


def _list(lake: Lake, ds: DatasetId) -> Listing:
    listing = Listing(ds)
    for info in lake.store.list(ds.asset_prefix):
        if info.key == ds.latest_key:
            listing.latest = info
        elif info.key.startswith(ds.data_prefix):
            date = ds.date_of(info.key)
            if date is None:
                listing.bad_data.append(info)
            else:
                listing.data[date] = info
        elif info.key.startswith(f"{ds.asset_prefix}versions/"):
            date = info.key[len(f"{ds.asset_prefix}versions/") :].split("/", 1)[0]
            sha = sha256_of_version_key(info.key)
            if sha is not None and _is_date(date) and info.key == ds.version_key(date, sha):
                listing.versions[(date, sha)] = info
            else:
                listing.bad_versions.append(info)
    listing.dependency = list(lake.store.list(ds.dependency_prefix))
    return listing


class Checker:
    """Checks listings, hashing each data object at most once and asking the store about
    versions outside the listings at most once each."""

    def __init__(self, lake: Lake, listings: list[Listing], tick: Callable[[], None]) -> None:
        self.lake = lake
        self.listings = {listing.dataset: listing for listing in listings}
        self.tick = tick
        self.hashed = 0
        self._sha256: dict[str, str | None] = {}
        self._exists: dict[tuple[DatasetId, str], bool] = {}
        self._located: dict[tuple[DatasetId, str, str], bool] = {}

    def run(self) -> Iterator[Problem]:
        for listing in self.listings.values():
            yield from self._dataset(listing)

    def exists(self, ref: GrosRef) -> bool:
        ds = ref.dataset
        if ds in self.listings:
            return ref.date in self.listings[ds].data
        if (ds, ref.date) not in self._exists:
            found = self.lake.store.head(ds.data_key(ref.date)) is not None
            self._exists[(ds, ref.date)] = found
        return self._exists[(ds, ref.date)]

    def located(self, ref: GrosRef) -> bool:
        """Whether the bytes `ref` names by sha256 are held, in `data/` or in `versions/`
        (a version whose name and bytes disagree is reported on its own)."""
        ds, sha = ref.dataset, ref.sha256
        assert sha is not None
        listing = self.listings.get(ds)
        if listing is not None:
            if (ref.date, sha) in listing.versions:
                return True
            return ref.date in listing.data and self.sha256(ds.data_key(ref.date)) == sha
        if (ds, ref.date, sha) not in self._located:
            try:
                self.lake.locate(ref)
                found = True
            except NotFound:
                found = False
            self._located[(ds, ref.date, sha)] = found
        return self._located[(ds, ref.date, sha)]

    def sha256(self, key: str) -> str | None:
        """The data object's sha256, streamed; None when it vanished meanwhile."""
        if key not in self._sha256:
            digest = hashlib.sha256()
            try:
                with self.lake.store.open(key) as stream:
                    while chunk := stream.read(_CHUNK):
                        digest.update(chunk)
            except NotFound:
                self._sha256[key] = None
            else:
                self._sha256[key] = digest.hexdigest()
                self.hashed += 1
        return self._sha256[key]

    def _dataset(self, listing: Listing) -> Iterator[Problem]:
        ds = listing.dataset
        for info in listing.bad_data:
            self.tick()
            yield Problem(info.key, "bad-data-name", "under data/ but not named YYYY-MM-DD.csv.gz")
        for _ in listing.data:
            self.tick()
        for info in listing.bad_versions:
            self.tick()
            yield Problem(
                info.key, "bad-version-name", "under versions/ but not DATE/SHA256.csv.gz"
            )
        for (_, sha), info in listing.versions.items():
            self.tick()
            yield from self._version(info.key, sha)
        if listing.latest is not None:
            self.tick()
            yield from self._latest(listing)
        for info in listing.dependency:
            self.tick()
            rel = info.key[len(ds.dependency_prefix) :]
            if m := _RECORD.fullmatch(rel):
                yield from self._record(listing, info.key, m.group(1), m.group(2))
            elif m := _AUDIT.fullmatch(rel):
                yield from self._audit(listing, info.key, m.group(1), unquote(m.group(2)))
            elif m := _REGISTRATION.fullmatch(rel):
                yield from self._registration(info.key, unquote(m.group(1)))
            elif m := _VERSION_RECORD.fullmatch(rel):
                yield from self._version_record(listing, info.key, m.group(1), m.group(2))

    def _read(
        self, key: str, model: type[GrosRef] | type[ProductionRecord], code: str
    ) -> tuple[Any, Problem | None]:
        """The parsed object, or a problem when it does not parse (None, None if gone)."""
        try:
            return model.from_json(self.lake.store.get(key), key), None
        except NotFound:
            return None, None
        except CorruptObject as e:
            return None, Problem(key, code, str(e))

    def _matches(
        self, listing: Listing, key: str, ref: GrosRef, what: str, code: str
    ) -> Iterator[Problem]:
        """`ref` (from `latest` or a record) against the data object it names."""
        info = listing.data.get(ref.date)
        data_key = listing.dataset.data_key(ref.date)
        if info is None:
            yield Problem(
                key, f"{code}-missing-data", f"{what} {ref.date}, but {data_key} does not exist"
            )
            return
        if ref.bytes is not None and ref.bytes != info.size:
            yield Problem(
                key,
                f"{code}-bytes-mismatch",
                f"{what} {ref.date} with {ref.bytes} bytes, but {data_key} has {info.size}",
            )
        if ref.sha256 is not None:
            actual = self.sha256(data_key)
            if actual is None:
                yield Problem(key, f"{code}-missing-data", f"{data_key} vanished while checking")
            elif actual != ref.sha256:
                yield Problem(
                    key,
                    f"{code}-sha256-mismatch",
                    f"{what} {ref.date} with sha256 {ref.sha256}, but {data_key} has {actual}",
                )

    def _latest(self, listing: Listing) -> Iterator[Problem]:
        key = listing.dataset.latest_key
        ref, problem = self._read(key, GrosRef, "latest-unreadable")
        if problem:
            yield problem
        if ref is None:
            return
        if ref.dataset != listing.dataset:
            yield Problem(
                key, "latest-wrong-dataset", f"names {ref.dataset}, not {listing.dataset}"
            )
            return
        yield from self._matches(listing, key, ref, "points at", "latest")

    def _record(self, listing: Listing, key: str, date: str, file_date: str) -> Iterator[Problem]:
        record, problem = self._read(key, ProductionRecord, "record-unreadable")
        if problem:
            yield problem
        if record is None:
            return
        ref = record.gros_ref
        if ref.dataset != listing.dataset or ref.date != date or file_date != date:
            yield Problem(
                key,
                "record-wrong-version",
                f"its gros_ref names {ref.version_uri}, not gros://{listing.dataset}:{date}",
            )
            return
        yield from self._matches(listing, key, ref, "records version", "record")
        yield from self._upstreams(key, record, "record")

    def _upstreams(self, key: str, record: ProductionRecord, code: str) -> Iterator[Problem]:
        """Each upstream must still be held: where the record names its bytes by sha256,
        those bytes (current or kept under `versions/`), else a data object of its date."""
        for up in record.upstreams:
            if up.sha256 is not None and self.located(up):
                continue
            if not self.exists(up):
                yield Problem(
                    key,
                    f"{code}-upstream-missing",
                    f"lists upstream {up.version_uri}, which has no data object",
                )
            elif up.sha256 is not None:
                ds = up.dataset
                yield Problem(
                    key,
                    f"{code}-upstream-lost",
                    f"lists upstream {up.version_uri} with sha256 {up.sha256}, whose bytes are "
                    f"lost: neither {ds.data_key(up.date)} nor {ds.versions_prefix(up.date)} "
                    "holds them",
                )

    def _version(self, key: str, sha: str) -> Iterator[Problem]:
        actual = self.sha256(key)
        if actual is not None and actual != sha:
            yield Problem(
                key,
                "version-sha256-mismatch",
                f"a kept version named by sha256 {sha}, but its bytes have {actual}",
            )

    def _version_record(self, listing: Listing, key: str, date: str, sha: str) -> Iterator[Problem]:
        """A superseded version's record: it must describe that version, whose bytes must be
        held, and its upstreams are checked as a current record's are."""
        record, problem = self._read(key, ProductionRecord, "version-record-unreadable")
        if problem:
            yield problem
        if record is None:
            return
        ref = record.gros_ref
        if ref.dataset != listing.dataset or ref.date != date or ref.sha256 != sha:
            yield Problem(
                key,
                "version-record-wrong-version",
                f"its gros_ref names {ref.version_uri} with sha256 {ref.sha256}, not "
                f"gros://{listing.dataset}:{date} with sha256 {sha}",
            )
            return
        if not self.located(ref):
            yield Problem(
                key,
                "version-record-missing-data",
                f"records version {date} with sha256 {sha}, but neither "
                f"{listing.dataset.version_key(date, sha)} nor the data object holds it",
            )
        yield from self._upstreams(key, record, "version-record")

    def _audit(self, listing: Listing, key: str, date: str, name: str) -> Iterator[Problem]:
        ref, problem = self._read(key, GrosRef, "audit-unreadable")
        if problem:
            yield problem
        if ref is None:
            return
        if str(ref.dataset) != name:
            yield Problem(
                key, "audit-wrong-name", f"holds {ref.version_uri} under the name {name!r}"
            )
        if date not in listing.data:
            yield Problem(
                key,
                "audit-missing-upstream",
                f"records a read of gros://{listing.dataset}:{date}, which has no data object",
            )
        if not self.exists(ref):
            yield Problem(
                key,
                "audit-missing-downstream",
                f"names the reader {ref.version_uri}, which has no data object",
            )

    def _registration(self, key: str, name: str) -> Iterator[Problem]:
        ref, problem = self._read(key, GrosRef, "registration-unreadable")
        if problem:
            yield problem
        if ref is not None and str(ref.dataset) != name:
            yield Problem(
                key, "registration-wrong-name", f"holds {ref.dataset} under the name {name!r}"
            )


def _is_date(text: str) -> bool:
    try:
        validate_date(text)
    except ValueError:
        return False
    return True
