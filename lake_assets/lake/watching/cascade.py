"""Which partitions to build when upstream dates change: the trigger rule of GROS_SPEC §4
applied through a chain of datasets, independent of Dagster.

A dataset's partition D is due when every upstream it reads with no tag has D and the
versions it was last built from (the store's version tokens of those inputs) differ from the
current ones. Everything built here below a due partition is built in the same run, in order,
so a new day costs one run through bronze, silver and gold, not one per dataset. Work already
queued or running is not requested twice: such a partition waits for a later pass.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from lake_assets.lake.contract.keys import DatasetId
from lake_assets.lake.contract.uri import TagKind
from lake_assets.lake.watching.pointers import Edge

SINGLE_DAY = 1
"""Attempt number of a partition whose batched run failed: it is retried alone, so one bad
day stops only its own chain."""
GIVE_UP = 2
"""A partition still not built after a run of its own is left until its inputs change."""

Versions = dict[str, str]


@dataclass(frozen=True)
class Chain:
    """The datasets built here, their no-tag upstreams and an order to build them in."""

    upstreams: Mapping[DatasetId, tuple[DatasetId, ...]]
    order: tuple[DatasetId, ...]

    @classmethod
    def of(cls, edges: Iterable[Edge], built: Iterable[DatasetId]) -> Chain:
        built = set(built)
        ups: dict[DatasetId, list[DatasetId]] = {ds: [] for ds in built}
        for e in edges:
            if e.kind is not TagKind.NONE or e.downstream not in built:
                continue
            if e.upstream not in ups[e.downstream]:
                ups[e.downstream].append(e.upstream)
        order: list[DatasetId] = []
        placed: set[DatasetId] = set()

        def place(ds: DatasetId) -> None:
            if ds in placed:
                return
            placed.add(ds)
            for up in sorted(ups[ds]):
                if up in built:
                    place(up)
            order.append(ds)

        for ds in sorted(built):
            place(ds)
        return cls({d: tuple(sorted(u)) for d, u in ups.items()}, tuple(order))

    @functools.cached_property
    def _readers(self) -> dict[DatasetId, list[DatasetId]]:
        found: dict[DatasetId, list[DatasetId]] = {}
        for d in self.order:
            for u in self.upstreams[d]:
                found.setdefault(u, []).append(d)
        return found

    @functools.cached_property
    def _rank(self) -> dict[DatasetId, int]:
        return {d: i for i, d in enumerate(self.order)}

    def readers(self, upstream: DatasetId) -> list[DatasetId]:
        return list(self._readers.get(upstream, ()))

    def below(self, due: Iterable[DatasetId]) -> list[DatasetId]:
        """`due` and everything built from them, in build order: all a day's plan visits, so
        planning costs what changed, not the size of the graph."""
        seen, todo = set(due), list(due)
        while todo:
            for reader in self._readers.get(todo.pop(), ()):
                if reader not in seen:
                    seen.add(reader)
                    todo.append(reader)
        return sorted(seen, key=self._rank.__getitem__)


@dataclass(frozen=True)
class Day:
    """One day's work: `members` in build order; `heads` are the ones due by their own
    inputs (the rest read a member). `attempt` is the highest of the members'."""

    date: str
    members: tuple[DatasetId, ...]
    heads: Mapping[DatasetId, Versions]
    attempt: int = 0

    def key(self) -> tuple[tuple[DatasetId, ...], int]:
        return self.members, self.attempt

    def only(self, members: Sequence[DatasetId]) -> Day:
        heads = {h: v for h, v in self.heads.items() if h in members}
        return Day(self.date, tuple(members), heads, self.attempt)


@dataclass(frozen=True)
class Lookups:
    """What planning asks of the world: whether a dataset has partition `date`, the version
    token of a data object (None: none), the input versions a partition's current
    materialization recorded, and whether a run in flight will write a partition."""

    accepts: Callable[[DatasetId, str], bool]
    current: Callable[[DatasetId, str], str | None]
    built_from: Callable[[DatasetId, str], Versions | None]
    in_flight: Callable[[DatasetId, str], bool]


@dataclass
class Plan:
    days: list[Day] = field(default_factory=list)
    pending: dict[tuple[DatasetId, str], int] = field(default_factory=dict)
    """Partitions to look at again on the next pass: waiting on work in flight, or requested
    now (to retry alone if their run fails), with their attempt number."""
    given_up: list[tuple[DatasetId, str]] = field(default_factory=list)
    waiting: int = 0


def plan(
    chain: Chain,
    candidates: Mapping[str, set[DatasetId]],
    pending: Mapping[tuple[DatasetId, str], int],
    look: Lookups,
) -> Plan:
    """The runs that bring every candidate partition (from `due`) up to date."""
    result = Plan()
    for date in sorted(candidates):
        _plan_day(chain, date, candidates[date], pending, look, result)
    return result


def due(
    chain: Chain,
    touched: Iterable[tuple[DatasetId, str]],
    pending: Iterable[tuple[DatasetId, str]],
) -> dict[str, set[DatasetId]]:
    """By date, the datasets built here that read a touched date with no tag, or are pending:
    the only partitions planning compares with what they were built from."""
    candidates: dict[str, set[DatasetId]] = {}
    for up, date in touched:
        for reader in chain.readers(up):
            candidates.setdefault(date, set()).add(reader)
    for ds, date in pending:
        if ds in chain.upstreams:
            candidates.setdefault(date, set()).add(ds)
    return candidates


def _plan_day(
    chain: Chain,
    date: str,
    due: set[DatasetId],
    pending: Mapping[tuple[DatasetId, str], int],
    look: Lookups,
    result: Plan,
) -> None:
    members: list[DatasetId] = []
    chosen: set[DatasetId] = set()
    heads: dict[DatasetId, Versions] = {}
    blocked: set[DatasetId] = set()
    attempt = 0
    for ds in chain.below(due):
        ups = chain.upstreams[ds]
        chained = any(u in chosen for u in ups)
        behind = any(u in blocked for u in ups)
        if not (chained or behind or ds in due) or not look.accepts(ds, date):
            continue
        if behind or look.in_flight(ds, date):
            blocked.add(ds)
            if ds in due:
                result.pending[(ds, date)] = pending.get((ds, date), 0)
                result.waiting += 1
            continue
        if any(u not in chosen and look.current(u, date) is None for u in ups):
            continue  # an upstream lacks the day: its arrival triggers this one
        tries = pending.get((ds, date), 0)
        if not chained:
            want = {str(u): look.current(u, date) or "" for u in ups}
            if look.built_from(ds, date) == want:
                continue
            if tries >= GIVE_UP:
                result.given_up.append((ds, date))
                continue
            heads[ds] = want
        members.append(ds)
        chosen.add(ds)
        attempt = max(attempt, tries)
    if members:
        result.days.append(Day(date, tuple(members), heads, attempt))


def runs(days: Sequence[Day], batch: int) -> list[list[Day]]:
    """Days with the same members, consecutive and first attempts, share a run of at most
    `batch` days; a retry runs alone."""
    grouped: list[list[Day]] = []
    for day in sorted(days, key=lambda d: (d.key(), d.date)):
        last = grouped[-1] if grouped else None
        if (
            last is not None
            and day.attempt == 0
            and last[-1].key() == day.key()
            and len(last) < batch
            and _next_day(last[-1].date) == day.date
        ):
            last.append(day)
        else:
            grouped.append([day])
    return sorted(grouped, key=lambda g: (g[0].date, [str(m) for m in g[0].members]))


def run_key(days: Sequence[Day], built: Mapping[tuple[DatasetId, str], object]) -> str:
    """Equal for the same days, members, inputs and replaced materializations: a tick retried
    after a crash asks for the same run, while new content, or a retry, is a new key."""
    parts = [
        [
            d.date,
            [str(m) for m in d.members],
            {str(h): v for h, v in d.heads.items()},
            [str(built.get((m, d.date))) for m in d.members],
            d.attempt,
        ]
        for d in days
    ]
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]
    return f"cascade:{days[0].date}:{len(days)}:{digest}"


def _next_day(date: str) -> str:
    return (dt.date.fromisoformat(date) + dt.timedelta(days=1)).isoformat()
