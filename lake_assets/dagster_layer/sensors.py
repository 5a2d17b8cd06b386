"""The `latest` sensor: a dataset reading `gros://x` with no tag reruns whenever x publishes,
whoever publishes it (this location, another one, or another team's job writing to S3)."""

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from dagster import (
    AssetMaterialization,
    AssetSelection,
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from lake_assets.dagster_layer.asset_keys import asset_key
from lake_assets.dagster_layer.graph import LakeGraph
from lake_assets.dagster_layer.io_manager import ref_metadata
from lake_assets.dagster_layer.resources import LakeResource
from lake_assets.lake import DatasetId, GrosRef, Lake, TagKind
from lake_assets.lake.watch import (
    POLL_WORKERS,
    Change,
    Edge,
    Pointer,
    Trigger,
    content_of,
    poll,
    triggers,
    verify,
)
from lake_assets.operations.k8s_tags import k8s_config_tags

SENSOR_NAME = "lake_upstream_latest"
TRIGGER_TAG = "lake/triggered_by"
CURSOR_VERSION = 2
MAX_CHANGES = int(os.environ.get("LAKE_SENSOR_MAX_CHANGES", "500"))
MAX_REGISTRATIONS = int(os.environ.get("LAKE_SENSOR_MAX_REGISTRATIONS", "2000"))


def sensor_interval() -> int:
    return int(os.environ.get("LAKE_SENSOR_INTERVAL", "30"))


@dataclass
class Cursor:
    """What a tick hands the next: each watched pointer as last seen, and how far the
    downstream registrations of the current declarations (by fingerprint) have got."""

    pointers: dict[DatasetId, Pointer] = field(default_factory=dict)
    fingerprint: str | None = None
    registered: int = 0

    @classmethod
    def load(cls, raw: str | None) -> "Cursor":
        data = json.loads(raw) if raw else {}
        if data.get("v") != CURSOR_VERSION:
            return cls()
        pointers = {}
        for name, value in data.get("p", {}).items():
            repo, _, branch = name.partition("/")
            pointers[DatasetId(repo, branch)] = Pointer.from_list(value)
        return cls(pointers, data.get("f"), int(data.get("r", 0)))

    def dump(self) -> str:
        body = {str(ds): p.to_list() for ds, p in sorted(self.pointers.items())}
        raw = {"v": CURSOR_VERSION, "p": body, "f": self.fingerprint, "r": self.registered}
        return json.dumps(raw, separators=(",", ":"))


def register_downstreams(lake: Lake, graph: LakeGraph, edges: Sequence[Edge]) -> None:
    """Write each upstream's `downstreams/` registration (spec §3) with the tag it is read
    by, in parallel."""

    def one(edge: Edge) -> None:
        parts = graph.partitions.get(edge.downstream)
        first = parts.get_first_partition_key() if parts is not None else None
        dates = [first] if first else lake.dates(edge.downstream)
        if not dates:
            return
        ref = GrosRef(
            repo=edge.downstream.repo,
            branch=edge.downstream.branch,
            date=dates[0],
            uri=f"gros://{edge.downstream}",
        )
        lake.register_downstream(
            edge.upstream, ref, None if edge.kind is TagKind.NONE else edge.tag
        )

    with ThreadPoolExecutor(max_workers=POLL_WORKERS) as pool:
        list(pool.map(one, edges))


def build_upstream_sensor(assets: Iterable[object]) -> SensorDefinition:
    return sensor_for_graph(LakeGraph.from_assets(assets))


def sensor_for_graph(graph: LakeGraph) -> SensorDefinition:
    """One sensor for every dataset built here. A tick's work is bounded whatever happened:
    a poll of one request per watched pointer, then at most MAX_CHANGES changes and
    MAX_REGISTRATIONS registrations; the rest waits for the next tick (their pointers stay
    as they were, so nothing is lost)."""
    targets = sorted({e.downstream for e in graph.edges})
    fingerprint = _fingerprint(graph)

    @sensor(
        name=SENSOR_NAME,
        description="Runs a dataset's partition when every upstream it reads with no tag has "
        "published it, and again when one republishes it with other content.",
        minimum_interval_seconds=sensor_interval(),
        default_status=DefaultSensorStatus.RUNNING,
        asset_selection=AssetSelection.assets(*[asset_key(d) for d in targets]),
    )
    def lake_upstream_latest(context: SensorEvaluationContext, lake: LakeResource):
        store_lake = lake.get_lake()
        before = Cursor.load(context.cursor)
        after = Cursor(dict(before.pointers), fingerprint, before.registered)
        if before.fingerprint != fingerprint:
            after.registered = 0
        if after.registered < len(graph.edges):
            batch = graph.edges[after.registered : after.registered + MAX_REGISTRATIONS]
            register_downstreams(store_lake, graph, batch)
            after.registered += len(batch)

        result = poll(store_lake.store, graph.watched, before.pointers)
        taken, deferred = result.changes[:MAX_CHANGES], result.changes[MAX_CHANGES:]
        taken, broken = verify(store_lake.store, taken)
        for problem in result.problems:
            context.log.warning(f"skipped {problem.key}: {problem.message}")
        for c in broken:
            missing = c.dataset.data_key(c.ref.date)
            context.log.warning(
                f"skipped {c.dataset.latest_key}: points at {c.ref.date} but {missing} is missing"
            )
        after.pointers.update(result.pointers)
        for change in [*deferred, *broken]:
            _restore(after.pointers, before.pointers, change.dataset)

        due = triggers(graph.edges, taken, lambda ds, date: content_of(store_lake.store, ds, date))
        requests = [
            _request(t, t.downstream in graph.heavy)
            for t in due
            if _in_partitions(graph, t.downstream, t.date)
        ]
        events = _external_events(graph, taken)
        context.log.info(
            f"polled {len(graph.watched)} upstreams with {result.requests} requests: "
            f"{len(result.changes)} changed ({len(deferred)} left for the next tick), "
            f"{len(requests)} runs requested"
        )
        if not requests and not events:
            return SensorResult(
                skip_reason=SkipReason(f"no upstream of {len(graph.watched)} changed"),
                cursor=after.dump(),
            )
        return SensorResult(run_requests=requests, asset_events=events, cursor=after.dump())

    return lake_upstream_latest


def _restore(
    pointers: dict[DatasetId, Pointer], old: dict[DatasetId, Pointer], ds: DatasetId
) -> None:
    if ds in old:
        pointers[ds] = old[ds]
    else:
        pointers.pop(ds, None)


def _fingerprint(graph: LakeGraph) -> str:
    """Changes when the declarations do, so registrations are rewritten only then."""
    return hashlib.sha256(json.dumps([str(e) for e in graph.edges]).encode()).hexdigest()[:16]


def _in_partitions(graph: LakeGraph, ds: DatasetId, date: str) -> bool:
    parts = graph.partitions.get(ds)
    return parts is None or parts.has_partition_key(date)


def _request(trigger: Trigger, heavy: bool) -> RunRequest:
    why = ",".join(
        f"{u.dataset}:{u.date}@{c[:12]}"
        for u, c in zip(trigger.upstreams, trigger.contents, strict=True)
    )
    return RunRequest(
        run_key=trigger.run_key,
        asset_selection=[asset_key(trigger.downstream)],
        partition_key=trigger.date,
        tags={TRIGGER_TAG: why, **(k8s_config_tags(heavy=True) if heavy else {})},
    )


def _external_events(graph: LakeGraph, changes: list[Change]) -> list[AssetMaterialization]:
    """Upstreams published elsewhere show up in the UI as materializations of their external
    assets, so their history and their downstreams' staleness are visible."""
    events = []
    for change in changes:
        if change.dataset not in graph.external:
            continue
        key = asset_key(change.dataset)
        for date in change.new_dates:
            if not _in_partitions(graph, change.dataset, date):
                continue
            ref = change.ref if change.ref.date == date else None
            meta = ref_metadata(ref) if ref else {"gros_uri": f"gros://{change.dataset}:{date}"}
            events.append(
                AssetMaterialization(
                    asset_key=key,
                    partition=date if graph.partitions.get(change.dataset) else None,
                    metadata=meta,
                    description="published outside this code location",
                )
            )
    return events
