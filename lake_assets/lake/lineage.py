"""Who read what: every dataset version read through the lake is recorded against the
current scope, so whatever publishes next in that scope lists it as an upstream (spec §5).

A scope is a Dagster step (the Dagster layer installs a resolver), an explicit `scope()` block,
or else the whole process, as a CI job that reads and then publishes would expect.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass

from lake_assets.lake.contract.refs import GrosRef
from lake_assets.lake.contract.uri import TagKind, parse_uri

PROCESS_SCOPE = "process"


@dataclass(frozen=True)
class Read:
    """One read: the version read, the URI (with its tag) it was read by, and the store's
    version token of the data object read (what a sensor compares to see new content)."""

    ref: GrosRef
    uri: str
    etag: str | None = None


_explicit: contextvars.ContextVar[Hashable | None] = contextvars.ContextVar(
    "lake_scope", default=None
)
_resolvers: list[Callable[[], Hashable | None]] = []
_reads: dict[Hashable, list[Read]] = {}
_lock = threading.Lock()


def add_scope_resolver(resolver: Callable[[], Hashable | None]) -> None:
    """Let an orchestrator name the scope of the code running now (None: not inside one)."""
    if resolver not in _resolvers:
        _resolvers.append(resolver)


def current_scope() -> Hashable:
    if (explicit := _explicit.get()) is not None:
        return explicit
    for resolver in _resolvers:
        if (found := resolver()) is not None:
            return found
    return PROCESS_SCOPE


@contextlib.contextmanager
def scope(name: Hashable) -> Iterator[None]:
    """Record the reads inside the block under `name` (and drop them when it ends)."""
    token = _explicit.set(name)
    try:
        yield
    finally:
        _explicit.reset(token)
        forget(name)


def record(
    ref: GrosRef, uri: str, in_scope: Hashable | None = None, *, etag: str | None = None
) -> None:
    key = current_scope() if in_scope is None else in_scope
    with _lock:
        reads = _reads.setdefault(key, [])
        if all(r.ref != ref or r.uri != uri for r in reads):
            reads.append(Read(ref, uri, etag))


def reads(in_scope: Hashable | None = None) -> list[Read]:
    with _lock:
        return list(_reads.get(current_scope() if in_scope is None else in_scope, []))


def forget(in_scope: Hashable) -> None:
    with _lock:
        _reads.pop(in_scope, None)


def upstreams_for(date: str, scope_reads: list[Read], *, aligned: bool = False) -> list[GrosRef]:
    """The upstream versions that made output `date`: every version read (spec §5). With
    `aligned`, for a run publishing several dates at once, an upstream read at `date` itself
    stands for that date alone, and one read at other dates only stands for all of them."""
    by_dataset: dict[tuple[str, str], list[GrosRef]] = {}
    for r in scope_reads:
        by_dataset.setdefault((r.ref.repo, r.ref.branch), []).append(r.ref)
    chosen: list[GrosRef] = []
    for refs in by_dataset.values():
        same_date = [ref for ref in refs if ref.date == date] if aligned else []
        for ref in same_date or refs:
            if ref not in chosen:
                chosen.append(ref)
    return chosen


def input_versions(date: str, scope_reads: list[Read]) -> dict[str, str]:
    """The version token of each upstream read with no tag at `date`, by dataset: what
    output `date` was built from, in the terms a watcher of the store sees (spec §4: a
    partition is built again when one of these is republished with other content)."""
    found: dict[str, str] = {}
    for r in scope_reads:
        if r.ref.date == date and r.etag and parse_uri(r.uri).kind is TagKind.NONE:
            found[str(r.ref.dataset)] = r.etag
    return dict(sorted(found.items()))
