"""The asset body of a declared dataset: build every partition of the run, run the blocking
checks on all of them, and only then hand the frames to the IO manager.

Every check reports one evaluation per partition, naming it, in a backfill batch too. A
failing check yields its evaluations (with the failing rows) and raises `Failure`, so the IO
manager is never called: no data object, production record or `latest` moves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pandas as pd
from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetExecutionContext,
    AssetRecordsFilter,
    Failure,
    MetadataValue,
    Output,
)

from lake_assets.dagster_layer.checks import (
    QUARANTINE_CHECK,
    SCHEMA_CHECK,
    Outcome,
    check_evaluation,
    quarantine_outcome,
    validate,
)
from lake_assets.dagster_layer.context import DatasetContext
from lake_assets.dagster_layer.declare import Dataset
from lake_assets.dagster_layer.internals import AssetCheckEvaluationTargetMaterializationData
from lake_assets.dagster_layer.io_manager import LakeIOManager
from lake_assets.dagster_layer.scope import step_scope
from lake_assets.lake import DatasetId, GrosRef, GrosUri, Lake, TagKind, lineage, openlineage
from lake_assets.lake.producer import producer

Body = Callable[..., Iterator[Output | AssetCheckEvaluation]]


def asset_body(ds: Dataset, dataset_id: DatasetId, uris: Mapping[str, GrosUri]) -> Body:
    def body(
        context: AssetExecutionContext, **inputs: Any
    ) -> Iterator[Output | AssetCheckEvaluation]:
        keys = list(context.partition_keys)
        runs = lineage_runs(context, dataset_id, ds, keys)
        try:
            yield from _checked_frames(context, ds, dataset_id, uris, inputs, keys, runs)
        except Exception as e:
            message = e.description if isinstance(e, Failure) else f"{type(e).__name__}: {e}"
            for run in runs.values():
                openlineage.failed(run, message or "the step failed")
            openlineage.flush()
            raise

    body.__module__ = ds.fn.__module__
    body.__name__ = ds.fn.__name__
    body.__qualname__ = ds.fn.__qualname__
    return body


def _checked_frames(
    context: AssetExecutionContext,
    ds: Dataset,
    dataset_id: DatasetId,
    uris: Mapping[str, GrosUri],
    inputs: Mapping[str, Any],
    keys: list[str],
    runs: Mapping[str, openlineage.Publish],
) -> Iterator[Output | AssetCheckEvaluation]:
    """Build and check every partition; yield the frames only if every check passed."""
    reads = lineage.reads(step_scope(context.get_step_execution_context()))
    frames: dict[str, pd.DataFrame] = {}
    budget = ds.spec.quarantine_budget
    outcomes: dict[str, list[Outcome]] = {SCHEMA_CHECK: []}
    if budget is not None:
        outcomes[QUARANTINE_CHECK] = []
    for key in keys:
        ctx = DatasetContext(dataset_id, key, _refs(uris, reads, key), context.log)
        frame = _build(ds, dataset_id, key, inputs, ctx)
        frames[key], outcome = validate(ds.schema, frame, key)
        outcomes[SCHEMA_CHECK].append(outcome)
        if budget is not None:
            outcomes[QUARANTINE_CHECK].append(quarantine_outcome(ctx, len(frame), budget))
    for outs in outcomes.values():
        for o in outs:
            if o.partition in runs:
                openlineage.checked(runs[o.partition], [_as_check(o)])
    failed = [o for outs in outcomes.values() for o in outs if not o.passed]
    if failed:
        days = sorted({o.partition for o in failed})
        listed = ", ".join(days[:5]) + (f" and {len(days) - 5} more" if len(days) > 5 else "")
        note = f"Passed, but nothing was published: {listed} failed in the same run."
        yield from _evaluations(context, outcomes, note)
        first = failed[0]
        raise Failure(
            description=(
                f"dataset {dataset_id}, partition {first.partition}: check "
                f"{first.check!r} failed: {first.problem}. Nothing was published."
            ),
            metadata={
                "dataset": str(GrosUri(dataset_id, TagKind.NONE)),
                "failed_partitions": MetadataValue.json(days),
            },
        )
    for q in outcomes.get(QUARANTINE_CHECK, []):
        context.add_asset_metadata(
            {
                "quarantined_rows": MetadataValue.int(q.failing_rows),
                "quarantined_by_reason": q.metadata["quarantined_by_reason"],
            },
            partition_key=q.partition,
        )
    yield Output(frames[keys[0]] if len(keys) == 1 else frames, metadata={"layer": ds.layer})
    yield from _evaluations(context, outcomes)


def lineage_runs(
    context: AssetExecutionContext, dataset_id: DatasetId, ds: Dataset, keys: list[str]
) -> dict[str, openlineage.Publish]:
    """The OpenLineage run of each partition, started now (none when it is not configured):
    the IO manager's publish completes the same run (same Dagster run, dataset and date)."""
    if not openlineage.enabled():
        return {}
    io_manager = getattr(context.resources, "io_manager", None)
    lake = io_manager.lake.get_lake() if isinstance(io_manager, LakeIOManager) else Lake.open()
    made_by = producer(
        run_id=context.run.run_id,
        job=context.run.job_name,
        function=f"{ds.fn.__module__}.{ds.fn.__qualname__}",
    )
    runs = {key: openlineage.Publish(lake.store.url, dataset_id, key, made_by) for key in keys}
    for run in runs.values():
        openlineage.started(run)
    return runs


def _as_check(o: Outcome) -> openlineage.Check:
    return openlineage.Check(
        name=o.check,
        passed=o.passed,
        blocking=True,  # any failed check stops the publish (see the module docstring)
        description=o.problem or None,
        actual=f"{o.failing_rows} of {o.rows} rows" if o.rows else None,
    )


def _evaluations(
    context: AssetExecutionContext, outcomes: Mapping[str, list[Outcome]], note: str | None = None
) -> Iterator[Output | AssetCheckEvaluation]:
    """Each selected check's (empty) output, then its evaluation of every partition (which
    completes the check execution Dagster planned for that day). `note` describes the days
    that passed in a run that failed."""
    assets_def = context.assets_def
    asset_key = context.asset_key
    selected = context.selected_asset_check_keys
    targets: dict[str, AssetCheckEvaluationTargetMaterializationData | None] = {}
    for check, outs in outcomes.items():
        check_key = AssetCheckKey(asset_key, check)
        if check_key not in selected:
            continue
        yield Output(None, output_name=assets_def.get_output_name_for_asset_check_key(check_key))
        blocking = assets_def.get_spec_for_check_key(check_key).blocking
        for o in outs:
            if o.partition not in targets:
                targets[o.partition] = _latest_materialization(context, o.partition)
            yield check_evaluation(
                asset_key, o, blocking=blocking, target=targets[o.partition], note=note
            )


def _latest_materialization(
    context: AssetExecutionContext, partition: str
) -> AssetCheckEvaluationTargetMaterializationData | None:
    """What the partition's evaluation is about, chosen as Dagster does for a single-partition
    `AssetCheckResult`: the partition's latest materialization (this run's when it published),
    so the UI counts the check as current for that partition."""
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=context.asset_key, asset_partitions=[partition]), limit=1
    ).records
    if not records:
        return None
    return AssetCheckEvaluationTargetMaterializationData(
        storage_id=records[0].storage_id,
        run_id=records[0].event_log_entry.run_id,
        timestamp=records[0].timestamp,
    )


def _build(
    ds: Dataset,
    dataset_id: DatasetId,
    key: str,
    inputs: Mapping[str, Any],
    ctx: DatasetContext,
) -> pd.DataFrame:
    # A range run loads tagless upstreams as `{date: frame}`; the function sees one frame.
    args = {n: v[key] if isinstance(v, Mapping) else v for n, v in inputs.items()}
    if ds.wants_context:
        args["context"] = ctx
    try:
        out = ds.fn(**args)
    except Failure:
        raise
    except Exception as e:
        raise Failure(
            description=(
                f"dataset {dataset_id}, partition {key}: {ds.fn.__qualname__} raised "
                f"{type(e).__name__}: {e}. Nothing was published."
            )
        ) from e
    if not isinstance(out, pd.DataFrame):
        raise Failure(
            description=(
                f"dataset {dataset_id}, partition {key}: {ds.fn.__qualname__} returned "
                f"{type(out).__name__}, not a pandas DataFrame"
            )
        )
    return out


def _refs(uris: Mapping[str, GrosUri], reads: list[lineage.Read], key: str) -> dict[str, GrosRef]:
    found: dict[str, GrosRef] = {}
    for name, uri in uris.items():
        text = str(uri)
        for r in reads:
            if r.uri == text and (uri.kind is not TagKind.NONE or r.ref.date == key):
                found[name] = r.ref
    return found
