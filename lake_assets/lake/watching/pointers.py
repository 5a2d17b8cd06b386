"""Watching `latest` pointers (the fast path to new days), independent of Dagster.

A poll costs one conditional GET per watched pointer (a "not modified" answer when nothing
changed); only a pointer that moved costs more: a listing of its dates when it skipped some.
A republish of an older date leaves `latest` alone: `sweep` sees those.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from lake_assets.lake.contract.errors import CorruptObject
from lake_assets.lake.contract.keys import DatasetId
from lake_assets.lake.contract.refs import GrosRef
from lake_assets.lake.contract.uri import SCHEME, TagKind
from lake_assets.lake.storage.store import ObjectInfo, Store

POLL_WORKERS = 32


@dataclass(frozen=True)
class Pointer:
    """What a watcher remembers of one `latest`: its version token, date and content."""

    etag: str | None
    date: str | None
    sha256: str | None

    def to_list(self) -> list[str | None]:
        return [self.etag, self.date, self.sha256]

    @classmethod
    def from_list(cls, raw: Sequence[str | None]) -> Pointer:
        return cls(*raw[:3])


@dataclass(frozen=True)
class Change:
    """An upstream whose `latest` moved: its new ref and the dates that are new to us."""

    dataset: DatasetId
    ref: GrosRef
    new_dates: tuple[str, ...]


@dataclass(frozen=True)
class Problem:
    key: str
    message: str


@dataclass
class Poll:
    pointers: dict[DatasetId, Pointer] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    requests: int = 0


def poll(
    store: Store,
    watched: Iterable[DatasetId],
    seen: Mapping[DatasetId, Pointer],
    workers: int = POLL_WORKERS,
) -> Poll:
    """Poll every watched `latest`; unreachable storage raises, so no change is lost."""
    watched = list(watched)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(lambda ds: _poll_one(store, ds, seen.get(ds)), watched))
    result = Poll()
    for ds, (pointer, change, problem, requests) in zip(watched, outcomes, strict=True):
        result.requests += requests
        if pointer is not None:
            result.pointers[ds] = pointer
        if change is not None:
            result.changes.append(change)
        if problem is not None:
            result.problems.append(problem)
    return result


def _poll_one(
    store: Store, ds: DatasetId, before: Pointer | None
) -> tuple[Pointer | None, Change | None, Problem | None, int]:
    got = store.get_if_changed(ds.latest_key, before.etag if before else None)
    if got is False:
        return before, None, None, 1
    if got is None:
        return _poll_listing(store, ds, before)
    data, info = got
    try:
        ref = GrosRef.from_json(data, ds.latest_key)
    except CorruptObject as e:
        return before, None, Problem(ds.latest_key, str(e)), 1
    if ref.dataset != ds:
        return before, None, Problem(ds.latest_key, f"names {ref.dataset}, not {ds}"), 1
    pointer = Pointer(info.etag, ref.date, ref.sha256)
    requests = 1
    if before is None or before.date is None:
        new: tuple[str, ...] = (ref.date,)
    elif ref.date > before.date:
        requests += 1
        new = tuple(d for d in _dates(store, ds) if before.date < d <= ref.date)
    elif ref.date == before.date and (ref.sha256 != before.sha256 or ref.sha256 is None):
        new = (ref.date,)
    else:
        new = ()
    return pointer, Change(ds, ref, new) if new else None, None, requests


def _poll_listing(
    store: Store, ds: DatasetId, before: Pointer | None
) -> tuple[Pointer | None, Change | None, Problem | None, int]:
    """No `latest` object: the newest date with a data object stands for it (spec §4)."""
    infos = {d: info for info in store.list(ds.data_prefix) if (d := ds.date_of(info.key))}
    if not infos:
        return Pointer(None, None, None), None, None, 2
    newest = max(infos)
    pointer = Pointer(None, newest, infos[newest].etag)
    if before is not None and before.date == newest and before.sha256 == pointer.sha256:
        return pointer, None, None, 2
    if before is None or before.date is None or newest == before.date:
        new: tuple[str, ...] = (newest,)
    else:
        new = tuple(d for d in sorted(infos) if before.date < d)
    ref = GrosRef(repo=ds.repo, branch=ds.branch, date=newest, uri=f"{SCHEME}{ds}:{newest}")
    return pointer, Change(ds, ref, new), None, 2


def verify(
    store: Store, changes: Sequence[Change], workers: int = POLL_WORKERS
) -> tuple[list[Change], list[Change], dict[tuple[DatasetId, str], str]]:
    """Split changes into those whose `latest` points at a data object that exists and those
    that point nowhere; done only for the changes a tick acts on, so a burst of new pointers
    costs one request each to poll. Also returns the version token of each object found, so
    the planner need not ask for it again."""

    def info(change: Change) -> ObjectInfo | None:
        return store.head(change.dataset.data_key(change.ref.date))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        found = list(pool.map(info, changes))
    ok = [c for c, i in zip(changes, found, strict=True) if i is not None]
    broken = [c for c, i in zip(changes, found, strict=True) if i is None]
    etags = {(c.dataset, c.ref.date): i.etag for c, i in zip(changes, found, strict=True) if i}
    return ok, broken, etags


def _dates(store: Store, ds: DatasetId) -> list[str]:
    return sorted(d for info in store.list(ds.data_prefix) if (d := ds.date_of(info.key)))


@dataclass(frozen=True)
class Edge:
    """`downstream` reads `upstream` with a tag of `kind`; only TagKind.NONE triggers."""

    downstream: DatasetId
    upstream: DatasetId
    kind: TagKind
    tag: str | None = None
