"""The asset body of a declared dataset: build every partition of the run, run the blocking
checks on all of them, and only then hand the frames to the IO manager.

A failing check yields its result (with the failing rows) and raises `Failure`, so the IO
manager is never called: no data object, production record or `latest` moves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pandas as pd
from dagster import AssetCheckResult, AssetExecutionContext, Failure, MetadataValue, Output

from lake_assets.dagster_layer.checks import (
    QUARANTINE_CHECK,
    SCHEMA_CHECK,
    Outcome,
    check_result,
    quarantine_outcome,
    validate,
)
from lake_assets.dagster_layer.context import DatasetContext
from lake_assets.dagster_layer.declare import Dataset
from lake_assets.dagster_layer.scope import step_scope
from lake_assets.lake import DatasetId, GrosRef, GrosUri, TagKind, lineage

Body = Callable[..., Iterator[Output | AssetCheckResult]]


def asset_body(ds: Dataset, dataset_id: DatasetId, uris: Mapping[str, GrosUri]) -> Body:
    def body(context: AssetExecutionContext, **inputs: Any) -> Iterator[Output | AssetCheckResult]:
        keys = list(context.partition_keys)
        reads = lineage.reads(step_scope(context.get_step_execution_context()))
        frames: dict[str, pd.DataFrame] = {}
        outcomes: dict[str, list[Outcome]] = {SCHEMA_CHECK: []}
        if ds.spec.quarantine_budget is not None:
            outcomes[QUARANTINE_CHECK] = []
        quarantined: dict[str, dict[str, int]] = {}
        for key in keys:
            ctx = DatasetContext(dataset_id, key, _refs(uris, reads, key), context.log)
            frame = _build(ds, dataset_id, key, inputs, ctx)
            frames[key], outcome = validate(ds.schema, frame, key)
            outcomes[SCHEMA_CHECK].append(outcome)
            if ds.spec.quarantine_budget is not None:
                q = quarantine_outcome(ctx, len(frame), ds.spec.quarantine_budget)
                outcomes[QUARANTINE_CHECK].append(q)
                quarantined[key] = q.metadata["quarantined_by_reason"]
        failed = [o for outs in outcomes.values() for o in outs if not o.passed]
        if failed:
            for check, outs in outcomes.items():
                yield check_result(check, outs)
            first = failed[0]
            raise Failure(
                description=(
                    f"dataset {dataset_id}, partition {first.partition}: check "
                    f"{first.check!r} failed: {first.problem}. Nothing was published."
                ),
                metadata={
                    "dataset": f"gros://{dataset_id}",
                    "failed_partitions": MetadataValue.json(sorted({o.partition for o in failed})),
                },
            )
        meta: dict[str, Any] = {"layer": ds.layer}
        if quarantined:
            meta["quarantined_rows"] = sum(sum(v.values()) for v in quarantined.values())
            meta["quarantined_by_partition"] = MetadataValue.json(quarantined)
        yield Output(frames[keys[0]] if len(keys) == 1 else frames, metadata=meta)
        for check, outs in outcomes.items():
            yield check_result(check, outs)

    body.__module__ = ds.fn.__module__
    body.__name__ = ds.fn.__name__
    body.__qualname__ = ds.fn.__qualname__
    return body


def _build(
    ds: Dataset,
    dataset_id: DatasetId,
    key: str,
    inputs: Mapping[str, Any],
    ctx: DatasetContext,
) -> pd.DataFrame:
    args = {name: _for_partition(value, key) for name, value in inputs.items()}
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


def _for_partition(value: Any, key: str) -> Any:
    """A range run loads tagless upstreams as `{date: frame}`; the function sees one frame."""
    return value[key] if isinstance(value, Mapping) else value


def _refs(uris: Mapping[str, GrosUri], reads: list[lineage.Read], key: str) -> dict[str, GrosRef]:
    found: dict[str, GrosRef] = {}
    for name, uri in uris.items():
        text = str(uri)
        for r in reads:
            if r.uri == text and (uri.kind is not TagKind.NONE or r.ref.date == key):
                found[name] = r.ref
    return found
