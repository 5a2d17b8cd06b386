"""Declared datasets to Dagster definitions, for the deployment's branch.

Each dataset becomes an asset keyed `[branch, repo]` (`asset_keys.py`); every upstream that
is read but not declared here becomes an external asset with the same key shape, so the
lineage graph shows the whole chain. A tagless upstream naming a dataset declared here
resolves to this deployment's branch: a branch deployment reads its own bronze, never
`master`'s.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, cached_property

from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetOut,
    AssetsDefinition,
    AssetSelection,
    AssetSpec,
    BackfillPolicy,
    DailyPartitionsDefinition,
    Definitions,
    MetadataValue,
    define_asset_job,
    in_process_executor,
    multi_asset,
)

from lake_assets.dagster_layer.asset_keys import (
    URI_METADATA_KEY,
    asset_key,
    check_spellings,
    dataset_metadata,
)
from lake_assets.dagster_layer.checks import (
    QUARANTINE_CHECK,
    SCHEMA_CHECK,
    check_spec,
    dagster_type,
    table_schema,
)
from lake_assets.dagster_layer.compute import asset_body
from lake_assets.dagster_layer.declare import LAYERS, Dataset, DeclarationError
from lake_assets.dagster_layer.internals import UnresolvedAssetJobDefinition
from lake_assets.dagster_layer.io_manager import HEAVY_METADATA_KEY
from lake_assets.dagster_layer.partition_mappings import partition_mapping
from lake_assets.lake import DatasetId, GrosUri, InvalidName, LakeError, TagKind
from lake_assets.lake.contract.names import default_branch, validate_branch
from lake_assets.lake.contract.uri import SCHEME
from lake_assets.lake.watching.pointers import Edge

DATASET_KINDS = {"pandas", "csv", "s3"}
SOURCE_KINDS = {"csv", "s3"}
SOURCES_GROUP = "sources"
DEFAULT_BACKFILL_BATCH = 31
PIPELINE_JOB = "lake_pipeline"


def deployment_branch() -> str:
    """`LAKE_BRANCH`, else the default branch: where this deployment's datasets are written."""
    branch = os.environ.get("LAKE_BRANCH") or default_branch()
    try:
        return validate_branch(branch)
    except InvalidName as e:
        raise DeclarationError(f"LAKE_BRANCH: {e}") from None


def backfill_batch() -> int:
    """`LAKE_BACKFILL_BATCH`: the most partitions one backfill run builds."""
    raw = os.environ.get("LAKE_BACKFILL_BATCH") or str(DEFAULT_BACKFILL_BATCH)
    if not raw.isdigit() or int(raw) < 1:
        raise DeclarationError(f"LAKE_BACKFILL_BATCH={raw!r}: expected a positive integer")
    return int(raw)


@dataclass(frozen=True)
class ExternalSource:
    """What this code location knows of a dataset another team publishes."""

    uri: str
    description: str = ""
    owners: tuple[str, ...] = ()
    end_date: str | dt.date | None = None
    """The first day it will not publish (exclusive), for a source that covers a fixed span."""


def op_name(dataset: DatasetId) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", f"{dataset.repo}__{dataset.branch}")


@dataclass(frozen=True)
class LakeGraph:
    """The resolved declarations, which both the assets and the lake sensor are built from:
    every dataset's id, the explicit URIs of its upstreams, the external sources known."""

    branch: str
    datasets: dict[DatasetId, Dataset]
    uris: dict[DatasetId, dict[str, GrosUri]]
    sources: dict[str, ExternalSource]

    @cached_property
    def external(self) -> dict[DatasetId, list[tuple[DatasetId, GrosUri]]]:
        """Upstreams read here but published elsewhere: which dataset reads each, by which URI."""
        found: dict[DatasetId, list[tuple[DatasetId, GrosUri]]] = {}
        for did, uris in self.uris.items():
            for uri in uris.values():
                if uri.dataset not in self.datasets:
                    found.setdefault(uri.dataset, []).append((did, uri))
        return found

    @cached_property
    def edges(self) -> tuple[Edge, ...]:
        """One per dataset and upstream, with the tag it is read by (no tag when it is read
        both with and without one: that read triggers)."""
        found: dict[tuple[DatasetId, DatasetId], Edge] = {}
        for did, uris in self.uris.items():
            for uri in sorted(uris.values(), key=lambda u: u.kind is TagKind.NONE):
                found[did, uri.dataset] = Edge(did, uri.dataset, uri.kind, uri.tag)
        return tuple(sorted(found.values(), key=str))

    @cached_property
    def watched(self) -> list[DatasetId]:
        """Every upstream whose `latest` can trigger a dataset built here."""
        return sorted({e.upstream for e in self.edges if e.kind is TagKind.NONE})

    @cached_property
    def partitions(self) -> dict[DatasetId, DailyPartitionsDefinition]:
        """Every dataset's days: a declared one's span; an external one's from the first day a
        reader needs (or a date tag names) up to its source's `end_date`."""
        found = {d: daily(ds.spec.start_date, ds.spec.end_date) for d, ds in self.datasets.items()}
        for did, reads in self.external.items():
            days = [self.datasets[r].spec.start_date for r, _ in reads]
            start = min(days + [dt.date.fromisoformat(u.date) for _, u in reads if u.date])
            info = self.source(did)
            end = _end_date(did, info.end_date, start) if info and info.end_date else None
            found[did] = daily(start, end)
        return found

    def source(self, did: DatasetId) -> ExternalSource | None:
        return self.sources.get(f"{SCHEME}{did}") or self.sources.get(f"{SCHEME}{did.repo}")


def resolve(
    datasets: Sequence[Dataset],
    branch: str | None = None,
    external: Sequence[ExternalSource] = (),
) -> LakeGraph:
    """Give every dataset its branch and every upstream an explicit one; reject duplicates
    and cycles, naming the datasets involved."""
    branch = deployment_branch() if branch is None else validate_branch(branch)
    by_id: dict[DatasetId, Dataset] = {}
    for ds in datasets:
        if not isinstance(ds, Dataset):
            raise DeclarationError(f"{ds!r} is not a declared dataset (use @dataset)")
        did = DatasetId(ds.repo, branch)
        if did in by_id:
            raise DeclarationError(
                f"dataset {did}: declared twice, by {_where(by_id[did])} and {_where(ds)}; "
                "a (repo, branch) has one producer"
            )
        by_id[did] = ds
    declared = {did.repo for did in by_id}
    uris: dict[DatasetId, dict[str, GrosUri]] = {}
    for did, ds in by_id.items():
        try:
            uris[did] = {
                u.name: u.resolve(branch if u.uri.repo in declared else default_branch())
                for u in ds.upstreams
            }
        except LakeError as e:
            raise DeclarationError(f"dataset {did}: {e}") from None
    _reject_cycles(by_id, uris)
    graph = LakeGraph(branch, by_id, uris, {src.uri: src for src in external})
    try:
        check_spellings([*by_id, *graph.external])
    except LakeError as e:
        raise DeclarationError(str(e)) from None
    return graph


def _where(ds: Dataset) -> str:
    return f"{ds.fn.__module__}.{ds.fn.__qualname__}"


def _reject_cycles(by_id: dict[DatasetId, Dataset], uris: dict[DatasetId, dict[str, GrosUri]]):
    state: dict[DatasetId, int] = {}
    path: list[DatasetId] = []

    def visit(node: DatasetId) -> None:
        state[node] = 1
        path.append(node)
        for uri in uris[node].values():
            up = uri.dataset
            if up not in by_id:
                continue
            if state.get(up) == 1:
                loop = [*path[path.index(up) :], up]
                raise DeclarationError(
                    f"dataset {up}: its upstreams form a cycle: "
                    + " -> ".join(str(d) for d in reversed(loop))
                )
            if up not in state:
                visit(up)
        path.pop()
        state[node] = 2

    for node in sorted(by_id):
        if node not in state:
            visit(node)


@cache
def daily(start: dt.date, end: dt.date | None = None) -> DailyPartitionsDefinition:
    """Days from `start` up to `end` (exclusive, as Dagster's), else up to today; one object
    per span."""
    return DailyPartitionsDefinition(
        start_date=start.isoformat(), end_date=end.isoformat() if end else None
    )


def build_asset(graph: LakeGraph, did: DatasetId, batch: int) -> AssetsDefinition:
    ds = graph.datasets[did]
    key = asset_key(did)
    uris = graph.uris[did]
    ins = {
        name: AssetIn(
            key=asset_key(uri.dataset),
            metadata={URI_METADATA_KEY: str(uri)},
            partition_mapping=partition_mapping(uri),
        )
        for name, uri in uris.items()
    }
    partitions = graph.partitions[did]
    body = asset_body(ds, did, uris)
    body.__annotations__ = {"context": AssetExecutionContext}
    checks = [
        check_spec(
            SCHEMA_CHECK,
            key,
            partitions,
            f"Every partition validates against {ds.schema.name} before publishing.",
        )
    ]
    if ds.spec.quarantine_budget is not None:
        checks.append(
            check_spec(
                QUARANTINE_CHECK,
                key,
                partitions,
                "Rows set aside stay within "
                f"{ds.spec.quarantine_budget:.1%} of the input rows of each partition.",
            )
        )
    out = AssetOut(
        key=key,
        dagster_type=dagster_type(f"{op_name(did)}_frame", ds.schema),
        io_manager_key="io_manager",
        group_name=ds.layer,
        description=ds.spec.description or None,
        code_version=ds.code_version,
        owners=ds.spec.owners or None,
        kinds=DATASET_KINDS,
        metadata={
            **dataset_metadata(did),
            "dagster/column_schema": table_schema(ds.schema),
            "owners": MetadataValue.json(ds.spec.owners),
            "layer": ds.layer,
            "upstreams": MetadataValue.json({n: str(u) for n, u in uris.items()}),
            HEAVY_METADATA_KEY: ds.spec.heavy,
        },
    )
    return multi_asset(
        name=op_name(did),
        outs={"result": out},
        ins=ins,
        partitions_def=partitions,
        backfill_policy=BackfillPolicy.multi_run(max_partitions_per_run=batch),
        check_specs=checks,
    )(body)


def external_spec(graph: LakeGraph, did: DatasetId) -> AssetSpec:
    readers = ", ".join(sorted({str(r) for r, _ in graph.external[did]}))
    info = graph.source(did)
    return AssetSpec(
        key=asset_key(did),
        group_name=SOURCES_GROUP,
        kinds=SOURCE_KINDS,
        partitions_def=graph.partitions[did],
        description=(info and info.description)
        or f"Published outside this code location (by {did.repo}'s own CI); read by {readers}.",
        owners=list(info.owners) if info else None,
        metadata=dataset_metadata(did),
    )


def _end_date(did: DatasetId, end: str | dt.date, start: dt.date) -> dt.date:
    try:
        day = end if isinstance(end, dt.date) else dt.date.fromisoformat(end)
    except ValueError:
        raise DeclarationError(
            f"external source {did}: end_date {end!r} is not YYYY-MM-DD"
        ) from None
    if day <= start:
        raise DeclarationError(
            f"external source {did}: end_date {day} (exclusive) must be after its first "
            f"partition {start}, the earliest day its readers need"
        )
    return day


def build_assets(graph: LakeGraph, batch: int | None = None) -> list[AssetsDefinition | AssetSpec]:
    batch = backfill_batch() if batch is None else batch
    return [
        *(build_asset(graph, did, batch) for did in sorted(graph.datasets)),
        *(external_spec(graph, did) for did in sorted(graph.external)),
    ]


def pipeline_jobs(graph: LakeGraph) -> list[UnresolvedAssetJobDefinition]:
    """One job over every layer per span of days (asset jobs need a single partitioning);
    `dagster job backfill -j lake_pipeline` runs it partition by partition."""
    spans: dict[tuple[dt.date, dt.date | None], list[AssetKey]] = {}
    for did, ds in graph.datasets.items():
        spans.setdefault((ds.spec.start_date, ds.spec.end_date), []).append(asset_key(did))
    return [
        define_asset_job(
            PIPELINE_JOB
            if len(spans) == 1
            else f"{PIPELINE_JOB}_{start:%Y%m%d}" + (f"_{end:%Y%m%d}" if end else ""),
            selection=AssetSelection.assets(*keys),
            executor_def=in_process_executor,
            description=f"Every dataset of layers {', '.join(LAYERS)} for one day.",
        )
        for (start, end), keys in sorted(
            spans.items(), key=lambda span: (span[0][0], span[0][1] or dt.date.max)
        )
    ]


def build_definitions(graph: LakeGraph, batch: int | None = None) -> Definitions:
    """Assets, external sources, blocking checks and the pipeline job. Runs execute their
    steps in one process, so a backfill batch is one pod on Kubernetes."""
    return Definitions(
        assets=build_assets(graph, batch),
        jobs=pipeline_jobs(graph),
        executor=in_process_executor,
    )
