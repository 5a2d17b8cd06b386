"""The lake sensor: a dataset reading `gros://x` with no tag reruns whenever x writes any of
its dates with other content, whoever writes it (this location, another one, or another
team's job writing to S3), in one run per day through everything built below it."""

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from dagster import (
    AssetMaterialization,
    AssetSelection,
    DagsterInstance,
    DefaultSensorStatus,
    PartitionsDefinition,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from lake_assets.dagster_layer.asset_keys import asset_key
from lake_assets.dagster_layer.build import LakeGraph, backfill_batch
from lake_assets.dagster_layer.internals import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from lake_assets.dagster_layer.io_manager import ref_metadata
from lake_assets.dagster_layer.resources import LakeResource
from lake_assets.dagster_layer.run_state import Built, InFlight, materialized_since
from lake_assets.lake import DatasetId, GrosRef, Lake, TagKind
from lake_assets.lake.contract.uri import SCHEME
from lake_assets.lake.watching.cascade import (
    GIVE_UP,
    SINGLE_DAY,
    Chain,
    Day,
    Lookups,
    due,
    plan,
    run_key,
    runs,
)
from lake_assets.lake.watching.pointers import POLL_WORKERS, Edge, Pointer, poll, verify
from lake_assets.lake.watching.sweep import Mark, sweep
from lake_assets.operations.k8s_tags import k8s_config_tags

SENSOR_NAME = "lake_upstream_latest"
TRIGGER_TAG = "lake/triggered_by"
CURSOR_VERSION = 3


def _setting(name: str, default: int) -> int:
    """A positive whole number from the environment, read when it is used (README's
    Configuration table), so a change needs no re-import; a bad value names the variable."""
    raw = os.environ.get(name) or str(default)
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name}={raw!r}: expected a positive integer")
    return int(raw)


def sensor_interval() -> int:
    return _setting("LAKE_SENSOR_INTERVAL", 30)


def max_changes() -> int:
    return _setting("LAKE_SENSOR_MAX_CHANGES", 500)


def max_registrations() -> int:
    return _setting("LAKE_SENSOR_MAX_REGISTRATIONS", 2000)


def sweep_per_tick() -> int:
    return _setting("LAKE_SWEEP_PER_TICK", 200)


def sweep_margin() -> float:
    """Seconds an object may become visible after newer ones and still be seen (S3 stamps a
    multipart upload with the time it started)."""
    return _setting("LAKE_SWEEP_MARGIN", 900)


@dataclass
class Cursor:
    """What a tick hands the next: each watched pointer as last seen, the sweep's marks and
    position, the last materialization event read, partitions to look at again, and how far
    the downstream registrations of the current declarations (by fingerprint) have got."""

    pointers: dict[DatasetId, Pointer] = field(default_factory=dict)
    fingerprint: str | None = None
    registered: int = 0
    marks: dict[DatasetId, Mark] = field(default_factory=dict)
    swept: int = 0
    events: int | None = None
    pending: dict[tuple[DatasetId, str], int] = field(default_factory=dict)

    @classmethod
    def load(cls, raw: str | None) -> "Cursor":
        data = json.loads(raw) if raw else {}
        if data.get("v") != CURSOR_VERSION:
            return cls()
        return cls(
            pointers={_ds(n): Pointer.from_list(v) for n, v in data.get("p", {}).items()},
            fingerprint=data.get("f"),
            registered=int(data.get("r", 0)),
            marks={_ds(n): Mark.from_list(v) for n, v in data.get("s", {}).items()},
            swept=int(data.get("sp", 0)),
            events=data.get("e"),
            pending={(_ds(n), d): int(a) for n, d, a in data.get("q", [])},
        )

    def dump(self) -> str:
        raw = {
            "v": CURSOR_VERSION,
            "p": {str(ds): p.to_list() for ds, p in sorted(self.pointers.items())},
            "f": self.fingerprint,
            "r": self.registered,
            "s": {str(ds): m.to_list() for ds, m in sorted(self.marks.items())},
            "sp": self.swept,
            "e": self.events,
            "q": sorted([str(ds), d, a] for (ds, d), a in self.pending.items()),
        }
        return json.dumps(raw, separators=(",", ":"))


def _ds(name: str) -> DatasetId:
    repo, _, branch = name.partition("/")
    return DatasetId(repo, branch)


def register_downstreams(lake: Lake, graph: LakeGraph, edges: Sequence[Edge]) -> None:
    """Write each upstream's `downstreams/` registration (spec §3) with the tag it is read
    by, in parallel."""

    def one(edge: Edge) -> None:
        down = edge.downstream
        first = graph.partitions[down].get_first_partition_key()
        dates = [first] if first else lake.dates(down)
        if not dates:
            return
        ref = GrosRef(repo=down.repo, branch=down.branch, date=dates[0], uri=f"{SCHEME}{down}")
        lake.register_downstream(
            edge.upstream, ref, None if edge.kind is TagKind.NONE else edge.tag
        )

    with ThreadPoolExecutor(max_workers=POLL_WORKERS) as pool:
        list(pool.map(one, edges))


def build_upstream_sensor(graph: LakeGraph) -> SensorDefinition:
    """One sensor for every dataset built here. Three ways to see a written date: Dagster's
    own materialization events (this location's runs, at once), a conditional GET of each
    watched `latest` (new days, one cheap request each) and a sweep of LAKE_SWEEP_PER_TICK
    watched `data/` listings per tick (a republish of any date by anyone, within a full pass).
    A tick's work is bounded (LAKE_SENSOR_MAX_CHANGES pointer changes,
    LAKE_SENSOR_MAX_REGISTRATIONS registrations); the rest waits for the next tick (their
    cursor entries stay as they were)."""
    chain = Chain.of(graph.edges, graph.datasets)
    fingerprint = _fingerprint(graph)
    keys = {ds: asset_key(ds) for ds in graph.datasets}
    by_key = {k: ds for ds, k in keys.items()}

    @sensor(
        name=SENSOR_NAME,
        description="Runs a dataset's partition when every upstream it reads with no tag has "
        "it, and again when one republishes it with other content: one run per day through "
        "every dataset below the change, never a partition already built from those versions "
        "or being built.",
        minimum_interval_seconds=sensor_interval(),
        default_status=DefaultSensorStatus.RUNNING,
        asset_selection=AssetSelection.assets(*keys.values()),
    )
    def lake_upstream_latest(context: SensorEvaluationContext, lake: LakeResource):
        store_lake = lake.get_lake()
        store = store_lake.store
        before = Cursor.load(context.cursor)
        after = replace(before, pointers=dict(before.pointers), marks=dict(before.marks))
        after.fingerprint = fingerprint
        if before.fingerprint != fingerprint:
            after.registered = 0
        if after.registered < len(graph.edges):
            batch = graph.edges[after.registered : after.registered + max_registrations()]
            register_downstreams(store_lake, graph, batch)
            after.registered += len(batch)

        result = poll(store, graph.watched, before.pointers)
        limit = max_changes()
        taken, deferred = result.changes[:limit], result.changes[limit:]
        taken, broken, found = verify(store, taken)
        for problem in result.problems:
            context.log.warning(f"skipped {problem.key}: {problem.message}")
        for c in broken:
            missing = c.dataset.data_key(c.ref.date)
            context.log.warning(
                f"skipped {c.dataset.latest_key}: points at {c.ref.date} but {missing} is missing"
            )
        after.pointers.update(result.pointers)
        for ds in {c.dataset for c in [*deferred, *broken]}:  # seen again next tick
            after.pointers.pop(ds, None)
            if ds in before.pointers:
                after.pointers[ds] = before.pointers[ds]
        touched = {(c.dataset, d) for c in taken for d in c.new_dates}

        internal, after.events = materialized_since(
            context.instance, by_key, before.events, limit, SENSOR_NAME
        )
        touched.update(internal)

        turn = _sweep_turn(graph.watched, before.swept)
        swept = sweep(store, turn, before.marks, sweep_margin())
        etags: dict[tuple[DatasetId, str], str | None] = dict(found)
        for s in swept.swept:
            after.marks[s.dataset] = s.mark
            for date, etag in s.written.items():
                touched.add((s.dataset, date))
                etags[(s.dataset, date)] = etag
        after.swept = (before.swept + len(turn)) % max(1, len(graph.watched))

        def current(ds: DatasetId, date: str) -> str | None:
            if (ds, date) not in etags:
                info = store.head(ds.data_key(date))
                etags[(ds, date)] = info.etag if info else None
            return etags[(ds, date)]

        built = Built(context.instance, keys)
        candidates = due(chain, touched, before.pending)
        built.prefetch((ds, date) for date, dss in candidates.items() for ds in dss)
        in_flight = InFlight.load(context.instance)
        look = Lookups(
            accepts=lambda ds, date: graph.partitions[ds].has_partition_key(date),
            current=current,
            built_from=built.inputs,
            in_flight=lambda ds, date: in_flight.covers(keys[ds], date),
        )
        planned = plan(chain, candidates, before.pending, look)
        after.pending = dict(planned.pending)
        requests = []
        for group in runs(planned.days, backfill_batch()):
            for days in _by_partitions(graph, group):
                requests.append(_request(days, graph, built))
                for day in days:
                    tries = SINGLE_DAY if len(days) > 1 and day.attempt == 0 else GIVE_UP
                    for m in day.members:
                        after.pending[(m, day.date)] = tries
        for ds, date in planned.given_up:
            context.log.warning(
                f"{ds} {date}: its run failed with these inputs; it runs again when one of "
                "them changes (or materialize it by hand)"
            )
        events = _external_events(graph, touched, context.instance, in_flight)
        context.log.info(
            f"polled {len(graph.watched)} upstreams with {result.requests} requests "
            f"({len(result.changes)} changed, {len(deferred)} left for the next tick), swept "
            f"{len(turn)} with {swept.requests}, read {len(internal)} materializations here; "
            f"{len(touched)} dates touched, {planned.waiting} waiting on runs in flight, "
            f"{len(requests)} runs requested"
        )
        if not requests and not events:
            return SensorResult(
                skip_reason=SkipReason(
                    f"nothing to build: {len(touched)} dates touched, "
                    f"{planned.waiting} waiting on runs in flight"
                ),
                cursor=after.dump(),
            )
        return SensorResult(run_requests=requests, asset_events=events, cursor=after.dump())

    return lake_upstream_latest


def _fingerprint(graph: LakeGraph) -> str:
    """Changes when the declarations do, so registrations are rewritten only then."""
    return hashlib.sha256(json.dumps([str(e) for e in graph.edges]).encode()).hexdigest()[:16]


def _sweep_turn(watched: Sequence[DatasetId], position: int) -> list[DatasetId]:
    """The next LAKE_SWEEP_PER_TICK watched datasets, round robin."""
    per_tick = sweep_per_tick()
    if len(watched) <= per_tick:
        return list(watched)
    start = position % len(watched)
    turn = list(watched[start : start + per_tick])
    return turn + list(watched[: per_tick - len(turn)])


def _by_partitions(graph: LakeGraph, days: list[Day]) -> list[list[Day]]:
    """A run's assets share one partitions definition: split members that do not."""
    groups: dict[PartitionsDefinition, list[DatasetId]] = {}
    for m in days[0].members:
        groups.setdefault(graph.partitions[m], []).append(m)
    return [days] if len(groups) == 1 else [[d.only(ms) for d in days] for ms in groups.values()]


def _request(days: list[Day], graph: LakeGraph, built: Built) -> RunRequest:
    members = days[0].members
    first, last = days[0].date, days[-1].date
    heads = sorted({str(h) for d in days for h in d.heads})
    why = f"{', '.join(heads)} for {first}" + (f"..{last}" if last != first else "")
    tags = {TRIGGER_TAG: why}
    if any(graph.datasets[m].spec.heavy for m in members):
        tags.update(k8s_config_tags(heavy=True))
    ids = {(m, d.date): built.storage_id(m, d.date) for d in days for m in members}
    if len(days) > 1:
        tags[ASSET_PARTITION_RANGE_START_TAG] = first
        tags[ASSET_PARTITION_RANGE_END_TAG] = last
    return RunRequest(
        run_key=run_key(days, ids),
        asset_selection=[asset_key(m) for m in members],
        partition_key=first if len(days) == 1 else None,
        tags=tags,
    )


def _external_events(
    graph: LakeGraph,
    touched: Iterable[tuple[DatasetId, str]],
    instance: DagsterInstance,
    in_flight: InFlight,
) -> list[AssetMaterialization]:
    """Upstreams published elsewhere show up in the UI as materializations of their external
    assets, so their history and their downstreams' staleness are visible. Not a date a run
    of this instance built (another code location's dataset): Dagster recorded it already,
    and a second, run-less record would hide that run's; nor one a run still in flight
    covers (it publishes before it records, and records it itself)."""
    dates = sorted(
        (ds, date)
        for ds, date in touched
        if ds in graph.external and graph.partitions[ds].has_partition_key(date)
    )
    built = Built(instance, {ds: asset_key(ds) for ds, _ in dates})
    built.prefetch(dates)
    return [
        AssetMaterialization(
            asset_key=asset_key(ds),
            partition=date,
            metadata=ref_metadata(GrosRef(repo=ds.repo, branch=ds.branch, date=date)),
            description="published outside this code location",
        )
        for ds, date in dates
        if not built.by_a_run(ds, date) and not in_flight.covers(asset_key(ds), date)
    ]
