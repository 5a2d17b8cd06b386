"""Retention (GROS_SPEC §6): which superseded versions and dead branches `lake gc` removes,
and removing them. Dagster-free: a plan from listings and production records, then deletes
in batches, logged under `gc/` at the lake root.

A version is kept when it is the current version of a live branch, younger than its branch's
retention, outside the selection, or named as an upstream by a version that is kept (any
dataset's, followed until nothing more is kept) unless `force`. Everything else that is
superseded, and every object of a branch that is not live, goes.

Age is the version's record `created_at`, else its object's last-modified time. A version is
created before it is superseded, so a `versions/` object last modified before the cut-off
is old by either measure: only versions superseded within the retention window have their
record read for it, and a plan costs listings plus the records of kept versions, never a
request per removed version.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from lake_assets.lake import suggest
from lake_assets.lake.catalog import Selection, listed_datasets
from lake_assets.lake.contract.errors import CorruptObject, LakeError, NotFound
from lake_assets.lake.contract.keys import (
    RECORD_PATH,
    VERSION_RECORD_PATH,
    DatasetId,
    sha256_of_version_key,
)
from lake_assets.lake.contract.names import validate_branch, validate_date
from lake_assets.lake.contract.refs import GrosRef, ProductionRecord
from lake_assets.lake.lake import Lake
from lake_assets.lake.storage.store import ObjectInfo
from lake_assets.lake.versions import made_at

LOG_PREFIX = "gc/"
"""Where `apply` writes its log: `gc/{UTC timestamp}.json` at the lake root."""
DEFAULT_KEEP_DAYS = 30.0
_READERS = 16
_DATE = r"\d{4}-\d{2}-\d{2}"
_AUDIT = re.compile(rf"{_DATE}/downstreams/([^/]+)")
_REGISTRATION = re.compile(r"downstreams/([^/]+)")


@dataclass(frozen=True)
class Policy:
    """What to keep. `branch_days` are `(fnmatch pattern, days)`, the first match wins over
    `keep_days`; `live_branches` None means no branch is dead."""

    keep_days: float = DEFAULT_KEEP_DAYS
    branch_days: tuple[tuple[str, float], ...] = ()
    live_branches: frozenset[str] | None = None
    force: bool = False
    selection: Selection = field(default_factory=Selection)

    def days_for(self, branch: str) -> float:
        for pattern, days in self.branch_days:
            if fnmatch.fnmatchcase(branch, pattern):
                return days
        return self.keep_days

    def is_live(self, branch: str) -> bool:
        return self.live_branches is None or branch in self.live_branches

    def to_json(self) -> dict[str, Any]:
        return {
            "keep_days": self.keep_days,
            "branch_days": [{"pattern": p, "days": d} for p, d in self.branch_days],
            "live_branches": None if self.live_branches is None else sorted(self.live_branches),
            "force": self.force,
            "scope": str(self.selection),
        }


def parse_days(text: str, option: str = "--keep-days") -> float:
    """A number of days, 0 or more (fractions allowed: `0.5` is twelve hours)."""
    try:
        days = float(text)
    except ValueError:
        days = -1.0
    if not days >= 0 or days == float("inf"):
        raise LakeError(f"invalid {option} {text!r}: a number of days, 0 or more")
    return days


def parse_branch_rule(text: str) -> tuple[str, float]:
    """`PATTERN=DAYS`, e.g. `feature/*=14` (fnmatch on the branch name)."""
    pattern, sep, days = text.rpartition("=")
    if not sep or not pattern.strip():
        raise LakeError(f"invalid --branch {text!r}: PATTERN=DAYS, e.g. 'feature/*=14'")
    return pattern.strip(), parse_days(days.strip(), f"--branch {text!r}: days")


def parse_live_branches(text: str, source: str = "the live branches") -> frozenset[str]:
    """Branch names one a line, as `git branch -r` (or `git branch`) prints them: blank
    lines skipped, `origin/` and a current-branch `* ` stripped, `origin/HEAD -> origin/x`
    read as `x`. Empty is an error: it would make every branch dead."""
    found = set()
    for number, line in enumerate(text.splitlines(), 1):
        name = line.strip().removeprefix("* ").strip()
        if "->" in name:
            name = name.split("->", 1)[1].strip()
        name = name.removeprefix("origin/")
        if not name:
            continue
        try:
            found.add(validate_branch(name))
        except ValueError as e:
            raise LakeError(f"{source}, line {number}: {e}") from None
    if not found:
        raise LakeError(f"{source} lists no branch: every branch would be dead")
    return frozenset(found)


@dataclass(frozen=True)
class VersionKey:
    """One version: `sha256` None is the current version of the date (in `data/`)."""

    dataset: DatasetId
    date: str
    sha256: str | None

    @property
    def uri(self) -> str:
        at = f"@{self.sha256[:12]}" if self.sha256 else ""
        return f"gros://{self.dataset}:{self.date}{at}"


@dataclass
class _Node:
    """A version the lake holds: its object and its record, either of which may be gone."""

    version: VersionKey
    obj: ObjectInfo | None
    record: ObjectInfo | None
    kept: str | None = None  # why it stays; None while it is a candidate for removal
    created_at: str | None = None
    referenced_by: list[str] = field(default_factory=list)

    @property
    def infos(self) -> list[ObjectInfo]:
        return [i for i in (self.obj, self.record) if i is not None]


@dataclass(frozen=True)
class Removal:
    key: str
    bytes: int


@dataclass(frozen=True)
class RemovedVersion:
    uri: str
    date: str
    sha256: str | None
    created_at: str | None
    """From its record, where the record was read (only versions superseded lately)."""
    modified: str
    """The last-modified time of its objects (when it was superseded)."""
    keys: tuple[str, ...]
    bytes: int


@dataclass(frozen=True)
class KeptVersion:
    uri: str
    keys: tuple[str, ...]
    referenced_by: tuple[str, ...]


@dataclass
class DatasetPlan:
    dataset: DatasetId
    dead: bool
    keep_days: float | None
    versions: list[RemovedVersion] = field(default_factory=list)
    removals: list[Removal] = field(default_factory=list)
    kept: list[KeptVersion] = field(default_factory=list)

    @property
    def objects(self) -> int:
        return len(self.removals)

    @property
    def bytes(self) -> int:
        return sum(r.bytes for r in self.removals)

    def to_json(self) -> dict[str, Any]:
        in_versions = {k for v in self.versions for k in v.keys}
        return {
            "dataset": str(self.dataset),
            "repo": self.dataset.repo,
            "branch": self.dataset.branch,
            "dead": self.dead,
            "keep_days": self.keep_days,
            "objects": self.objects,
            "bytes": self.bytes,
            "versions": [v.__dict__ | {"keys": list(v.keys)} for v in self.versions],
            "other_objects": [r.key for r in self.removals if r.key not in in_versions],
            "kept_because_referenced": [
                {"uri": k.uri, "keys": list(k.keys), "referenced_by": list(k.referenced_by)}
                for k in self.kept
            ],
        }


@dataclass
class GcPlan:
    lake: str
    now: dt.datetime
    policy: Policy
    datasets: list[DatasetPlan]
    records_read: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def objects(self) -> int:
        return sum(d.objects for d in self.datasets)

    @property
    def bytes(self) -> int:
        return sum(d.bytes for d in self.datasets)

    def keys(self) -> list[str]:
        """Every key to delete, in a safe order: `latest` pointers first (no reader follows
        one to a deleted object), then records and audits, then the data they describe (a
        run killed midway leaves objects a rerun still finds and removes)."""
        keys = {r.key for d in self.datasets for r in d.removals}
        return sorted(keys, key=lambda k: (not k.endswith("/metadata/latest"), k[:5] == "asset"))

    def to_json(self) -> dict[str, Any]:
        return {
            "lake": self.lake,
            "now": self.now.isoformat(),
            "policy": self.policy.to_json(),
            "objects": self.objects,
            "bytes": self.bytes,
            "datasets": [d.to_json() for d in self.datasets if d.removals or d.kept],
            "warnings": self.warnings,
        }


@dataclass
class _Held:
    """One dataset's objects, from one listing of each of its two prefixes."""

    dataset: DatasetId
    selected: bool
    dead: bool
    nodes: dict[VersionKey, _Node] = field(default_factory=dict)
    others: list[ObjectInfo] = field(default_factory=list)
    naming: dict[DatasetId, list[ObjectInfo]] = field(default_factory=dict)
    """Registrations and audit objects here that name another dataset (a downstream)."""

    def node(self, version: VersionKey) -> _Node:
        if version not in self.nodes:
            self.nodes[version] = _Node(version, None, None)
        return self.nodes[version]


def _now(now: dt.datetime | None) -> dt.datetime:
    now = now or dt.datetime.now(dt.UTC)
    return now if now.tzinfo else now.replace(tzinfo=dt.UTC)


def _modified(node: _Node) -> float | None:
    times = [i.modified for i in node.infos if i.modified is not None]
    return max(times) if times else None


def plan(lake: Lake, policy: Policy, now: dt.datetime | None = None) -> GcPlan:
    """What `policy` removes from the lake at `now` (default: the present), read-only."""
    now = _now(now)
    gc = _Planner(lake, policy, now)
    return gc.run()


class _Planner:
    def __init__(self, lake: Lake, policy: Policy, now: dt.datetime) -> None:
        self.lake = lake
        self.store = lake.store
        self.policy = policy
        self.now = now
        self.records: dict[str, ProductionRecord | None] = {}
        self.warnings: list[str] = []

    def _all_datasets(self) -> list[DatasetId]:
        return listed_datasets(self.store, ("asset/", "dependency/"))

    def _selected(self, ds: DatasetId) -> bool:
        sel = self.policy.selection
        return (sel.repo is None or sel.repo == ds.repo) and (
            sel.branch is None or sel.branch == ds.branch
        )

    def _list(self, ds: DatasetId) -> _Held:
        held = _Held(ds, self._selected(ds), not self.policy.is_live(ds.branch))
        versions_prefix = f"{ds.asset_prefix}versions/"
        for info in self.store.list(ds.asset_prefix):
            if (date := ds.date_of(info.key)) is not None:
                held.node(VersionKey(ds, date, None)).obj = info
            elif info.key.startswith(versions_prefix) and (
                (sha := sha256_of_version_key(info.key)) is not None
                and info.key == _version_key(ds, info.key, sha)
            ):
                date = info.key[len(versions_prefix) :].split("/", 1)[0]
                held.node(VersionKey(ds, date, sha)).obj = info
            else:
                held.others.append(info)
        for info in self.store.list(ds.dependency_prefix):
            rel = info.key[len(ds.dependency_prefix) :]
            if (m := RECORD_PATH.fullmatch(rel)) and m.group(1) == m.group(2) and _date(m.group(1)):
                held.node(VersionKey(ds, m.group(1), None)).record = info
            elif (m := VERSION_RECORD_PATH.fullmatch(rel)) and _date(m.group(1)):
                held.node(VersionKey(ds, m.group(1), m.group(2))).record = info
            else:
                held.others.append(info)
                if (m := _AUDIT.fullmatch(rel) or _REGISTRATION.fullmatch(rel)) is not None:
                    named = _dataset_named(unquote(m.group(1)))
                    if named is not None:
                        held.naming.setdefault(named, []).append(info)
        return held

    def _read(self, keys: Iterable[str]) -> None:
        """Fetch records not fetched yet, in parallel on a remote store."""
        todo = sorted({k for k in keys if k not in self.records})
        if not todo:
            return
        if self.store.remote and len(todo) > 1:
            with ThreadPoolExecutor(min(_READERS, len(todo))) as pool:
                got = list(pool.map(self._fetch, todo))
        else:
            got = [self._fetch(k) for k in todo]
        self.records.update(zip(todo, got, strict=True))

    def _fetch(self, key: str) -> ProductionRecord | None:
        try:
            return ProductionRecord.from_json(self.store.get(key), key)
        except NotFound:
            return None
        except CorruptObject as e:
            self.warnings.append(f"{e}; its upstreams protect nothing")
            return None

    def _record(self, node: _Node) -> ProductionRecord | None:
        if node.record is None:
            return None
        record = self.records.get(node.record.key)
        if record is None or record.gros_ref.date != node.version.date:
            return None
        if node.version.sha256 and record.gros_ref.sha256 != node.version.sha256:
            return None
        return record

    # the plan

    def run(self) -> GcPlan:
        sel = self.policy.selection
        everything = [self._list(ds) for ds in self._all_datasets()]
        held = {h.dataset: h for h in everything}
        chosen = [h for h in everything if h.selected]
        if sel.repo is not None and not chosen:
            if sel.branch is not None:
                raise suggest.unknown_dataset(self.store, DatasetId(sel.repo, sel.branch))
            raise suggest.unknown_repo(self.store, sel.repo)
        repos = sorted({h.dataset.repo for h in chosen})
        if self.policy.live_branches is not None and len(repos) > 1:
            raise LakeError(
                "--live-branches lists the branches of one repo, but the selection holds "
                f"{len(repos)} repos ({', '.join(suggest._some(repos))}): name the repo, "
                "as in lake gc REPO --live-branches FILE"
            )
        self._mark(everything)
        candidates = [n for h in chosen for n in h.nodes.values() if n.kept is None]
        if candidates and not self.policy.force:
            self._protect(everything, held)
        self._current_stays(chosen)
        return GcPlan(
            lake=self.store.url,
            now=self.now,
            policy=self.policy,
            datasets=[self._dataset_plan(h, held) for h in chosen],
            records_read=len(self.records),
            warnings=self.warnings,
        )

    def _mark(self, everything: list[_Held]) -> None:
        """Keep what stays regardless of references; leave the rest as candidates."""
        young: list[_Node] = []
        for h in everything:
            if not h.selected:
                for n in h.nodes.values():
                    n.kept = "outside the selection"
                continue
            if h.dead:
                continue
            cutoff = self.now - dt.timedelta(days=self.policy.days_for(h.dataset.branch))
            for n in h.nodes.values():
                if n.version.sha256 is None:
                    n.kept = "current"
                elif made_at(None, _modified(n)) >= cutoff:
                    young.append(n)
        self._read(n.record.key for n in young if n.record is not None)
        for n in young:
            record = self._record(n)
            made = record.gros_ref.created_at if record else None
            n.created_at = made
            days = self.policy.days_for(n.version.dataset.branch)
            if made_at(made, _modified(n)) >= self.now - dt.timedelta(days=days):
                n.kept = "young"

    def _protect(self, everything: list[_Held], held: dict[DatasetId, _Held]) -> None:
        """Keep every version a kept version names as an upstream, until nothing changes."""
        wave = [n for h in everything for n in h.nodes.values() if n.kept is not None]
        while wave:
            self._read(n.record.key for n in wave if n.record is not None)
            following = []
            for n in wave:
                record = self._record(n)
                for up in record.upstreams if record else ():
                    target = self._target(up, held)
                    if target is None:
                        continue
                    target.referenced_by.append(n.version.uri)
                    if target.kept is None:
                        target.kept = "referenced"
                        following.append(target)
            wave = following

    @staticmethod
    def _target(up: GrosRef, held: dict[DatasetId, _Held]) -> _Node | None:
        """The held version an upstream GrosRef names: by sha256 under `versions/`, else
        the current version of its date (which holds those bytes, or the only ones left)."""
        h = held.get(up.dataset)
        if h is None:
            return None
        if up.sha256 and (n := h.nodes.get(VersionKey(up.dataset, up.date, up.sha256))):
            return n
        return h.nodes.get(VersionKey(up.dataset, up.date, None))

    def _current_stays(self, chosen: list[_Held]) -> None:
        """A `versions/` copy of the bytes now current in `data/` stays on a live branch: a
        replacer that found it would not copy those bytes again before replacing them."""
        dated = [
            h.nodes.get(VersionKey(h.dataset, n.version.date, None))
            for h in chosen
            if not h.dead
            for n in h.nodes.values()
            if n.kept is None
        ]
        self._read(n.record.key for n in dated if n is not None and n.record is not None)
        for h in chosen:
            for n in h.nodes.values():
                if n.kept is None and not h.dead:
                    current = h.nodes.get(VersionKey(h.dataset, n.version.date, None))
                    record = self._record(current) if current else None
                    if record is not None and record.gros_ref.sha256 == n.version.sha256:
                        n.kept = "current"

    def _dataset_plan(self, h: _Held, held: dict[DatasetId, _Held]) -> DatasetPlan:
        ds = h.dataset
        result = DatasetPlan(ds, h.dead, None if h.dead else self.policy.days_for(ds.branch))
        for n in sorted(h.nodes.values(), key=lambda n: (n.version.date, n.version.sha256 or "")):
            infos = n.infos
            if n.kept == "referenced":
                keys = tuple(i.key for i in infos)
                result.kept.append(KeptVersion(n.version.uri, keys, tuple(n.referenced_by)))
            if n.kept is not None:
                continue
            result.versions.append(
                RemovedVersion(
                    n.version.uri,
                    n.version.date,
                    n.version.sha256,
                    n.created_at,
                    made_at(None, _modified(n)).isoformat(),
                    tuple(i.key for i in infos),
                    sum(i.size for i in infos),
                )
            )
            result.removals.extend(Removal(i.key, i.size) for i in infos)
        if h.dead:
            result.removals.extend(Removal(i.key, i.size) for i in h.others)
            for other in held.values():  # registrations and audits naming it elsewhere
                if other.dataset != ds and not (other.selected and other.dead):
                    result.removals.extend(Removal(i.key, i.size) for i in other.naming.get(ds, []))
        result.removals.sort(key=lambda r: r.key)
        return result


def _date(text: str) -> bool:
    try:
        validate_date(text)
    except ValueError:
        return False
    return True


def _version_key(ds: DatasetId, key: str, sha: str) -> str | None:
    date = key[len(f"{ds.asset_prefix}versions/") :].split("/", 1)[0]
    return ds.version_key(date, sha) if _date(date) else None


def _dataset_named(name: str) -> DatasetId | None:
    repo, sep, branch = name.partition("/")
    try:
        return DatasetId(repo, branch) if sep else None
    except ValueError:
        return None


def log_key(now: dt.datetime) -> str:
    """`gc/20261203T075514.123456Z.json`: sorts by time, no `:` in the key."""
    return f"{LOG_PREFIX}{now.astimezone(dt.UTC).strftime('%Y%m%dT%H%M%S.%fZ')}.json"


def apply(lake: Lake, gc_plan: GcPlan) -> dict[str, Any]:
    """Delete what the plan removes, in batches, and log it at `gc/{UTC timestamp}.json`:
    the log is written before the first delete (`complete: false`, so a run killed midway
    still says what it was removing) and again when every delete is done. Returns the log.
    A plan that removes nothing writes no log."""
    keys = gc_plan.keys()
    started = dt.datetime.now(dt.UTC)
    log: dict[str, Any] = {
        "key": log_key(started),
        "started_at": started.isoformat(),
        "complete": False,
        **gc_plan.to_json(),
        "removed": [
            {"key": r.key, "bytes": r.bytes, "dataset": str(d.dataset)}
            for d in gc_plan.datasets
            for r in d.removals
        ],
    }
    if not keys:
        log["key"] = None
        log["complete"] = True
        return log
    store = lake.store
    if store.put_if(log["key"], _log_bytes(log), etag=None) is None:
        raise LakeError(f"{log['key']} already exists: another gc started at the same instant")
    store.delete_many(keys)
    log["complete"] = True
    log["finished_at"] = dt.datetime.now(dt.UTC).isoformat()
    store.put(log["key"], _log_bytes(log))
    return log


def _log_bytes(log: dict[str, Any]) -> bytes:
    return json.dumps(log, indent=1).encode()
