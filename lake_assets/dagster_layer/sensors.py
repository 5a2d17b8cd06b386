"""The `latest` sensor: a dataset reading `gros://x` with no tag reruns whenever x publishes,
whoever publishes it (this location, another one, or another team's job writing to S3)."""

import hashlib
import json
import os
from collections.abc import Iterable

from dagster import (
    AssetKey,
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

from lake_assets.dagster_layer.graph import LakeGraph
from lake_assets.dagster_layer.io_manager import ref_metadata
from lake_assets.dagster_layer.resources import LakeResource
from lake_assets.lake import DatasetId, GrosRef, Lake, TagKind
from lake_assets.lake.watch import Change, Pointer, Trigger, content_of, poll, triggers

SENSOR_NAME = "lake_upstream_latest"
TRIGGER_TAG = "lake/triggered_by"
CURSOR_VERSION = 1


def sensor_interval() -> int:
    return int(os.environ.get("LAKE_SENSOR_INTERVAL", "30"))


def load_cursor(raw: str | None) -> tuple[dict[DatasetId, Pointer], str | None]:
    if not raw:
        return {}, None
    data = json.loads(raw)
    if data.get("v") != CURSOR_VERSION:
        return {}, None
    pointers = {}
    for name, value in data.get("p", {}).items():
        repo, _, branch = name.partition("/")
        pointers[DatasetId(repo, branch)] = Pointer.from_list(value)
    return pointers, data.get("reg")


def dump_cursor(pointers: dict[DatasetId, Pointer], registered: str | None) -> str:
    body = {str(ds): p.to_list() for ds, p in sorted(pointers.items())}
    return json.dumps({"v": CURSOR_VERSION, "p": body, "reg": registered}, separators=(",", ":"))


def register_downstreams(lake: Lake, graph: LakeGraph) -> None:
    """Write each upstream's `downstreams/` registration (spec §3), with the tag read by."""
    for edge in graph.edges:
        parts = graph.partitions.get(edge.downstream)
        latest = lake.dates(edge.downstream)
        date = latest[-1] if latest else _first_partition(parts)
        if date is None:
            continue
        ref = GrosRef(
            repo=edge.downstream.repo,
            branch=edge.downstream.branch,
            date=date,
            uri=f"gros://{edge.downstream}",
        )
        tag = None if edge.kind is TagKind.NONE else edge.tag
        lake.register_downstream(edge.upstream, ref, tag)


def _first_partition(parts: object) -> str | None:
    keys = parts.get_partition_keys() if parts is not None else []  # type: ignore[attr-defined]
    return keys[0] if keys else None


def build_upstream_sensor(assets: Iterable[object]) -> SensorDefinition:
    return sensor_for_graph(LakeGraph.from_assets(assets))


def sensor_for_graph(graph: LakeGraph) -> SensorDefinition:
    targets = sorted({e.downstream for e in graph.edges})

    @sensor(
        name=SENSOR_NAME,
        description="Runs a dataset's partition when every upstream it reads with no tag has "
        "published it, and again when one republishes it with other content.",
        minimum_interval_seconds=sensor_interval(),
        default_status=DefaultSensorStatus.RUNNING,
        asset_selection=AssetSelection.assets(*[AssetKey([d.repo, d.branch]) for d in targets]),
    )
    def lake_upstream_latest(context: SensorEvaluationContext, lake: LakeResource):
        store_lake = lake.get_lake()
        seen, registered = load_cursor(context.cursor)
        fingerprint = registered
        if registered is None or registered != _fingerprint(graph):
            register_downstreams(store_lake, graph)
            fingerprint = _fingerprint(graph)
        result = poll(store_lake.store, graph.watched, seen)
        for problem in result.problems:
            context.log.warning(f"skipped {problem.key}: {problem.message}")
        due = triggers(
            graph.edges,
            result.changes,
            lambda ds, date: content_of(store_lake.store, ds, date),
        )
        requests = [_request(t) for t in due if _in_partitions(graph, t.downstream, t.date)]
        events = _external_events(graph, result.changes)
        cursor = dump_cursor(result.pointers, fingerprint)
        context.log.info(
            f"polled {len(graph.watched)} upstreams with {result.requests} requests: "
            f"{len(result.changes)} changed, {len(requests)} runs requested"
        )
        if not requests and not events:
            return SensorResult(
                skip_reason=SkipReason(f"no upstream of {len(graph.watched)} changed"),
                cursor=cursor,
            )
        return SensorResult(run_requests=requests, asset_events=events, cursor=cursor)

    return lake_upstream_latest


def _fingerprint(graph: LakeGraph) -> str:
    """Changes when the declarations do, so registrations are rewritten only then."""
    return hashlib.sha256(json.dumps([str(e) for e in graph.edges]).encode()).hexdigest()[:16]


def _in_partitions(graph: LakeGraph, ds: DatasetId, date: str) -> bool:
    parts = graph.partitions.get(ds)
    return parts is None or parts.has_partition_key(date)


def _request(trigger: Trigger) -> RunRequest:
    why = ",".join(
        f"{u.dataset}:{u.date}@{c[:12]}"
        for u, c in zip(trigger.upstreams, trigger.contents, strict=True)
    )
    return RunRequest(
        run_key=trigger.run_key,
        asset_selection=[AssetKey([trigger.downstream.repo, trigger.downstream.branch])],
        partition_key=trigger.date,
        tags={TRIGGER_TAG: why},
    )


def _external_events(graph: LakeGraph, changes: list[Change]) -> list[AssetMaterialization]:
    """Upstreams published elsewhere show up in the UI as materializations of their external
    assets, so their history and their downstreams' staleness are visible."""
    events = []
    for change in changes:
        if change.dataset not in graph.external:
            continue
        key = AssetKey([change.dataset.repo, change.dataset.branch])
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
