"""The gzip-CSV IO manager: assets keyed `[branch, repo]`, one object per daily partition,
published through the lake protocol so every materialization writes `latest` and lineage."""

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd
from dagster import (
    ConfigurableIOManager,
    DataVersion,
    Failure,
    InputContext,
    MetadataValue,
    OutputContext,
    ResourceDependency,
)

from lake_assets.dagster_layer.asset_keys import URI_METADATA_KEY, dataset_of
from lake_assets.dagster_layer.branch_review import branch_diff_metadata
from lake_assets.dagster_layer.checks import frame_schema, preview
from lake_assets.dagster_layer.resources import LakeResource
from lake_assets.dagster_layer.scope import step_scope
from lake_assets.lake import DatasetId, GrosRef, LakeError, NotFound, TagKind, lineage, openlineage
from lake_assets.lake.codec import columns as colspec
from lake_assets.lake.codec import gzip_csv as codec
from lake_assets.lake.contract.uri import GrosUri, parse_uri

HEAVY_METADATA_KEY = "lake/heavy"
"""Asset metadata: the dataset's runs need a bigger Kubernetes pod."""

INPUT_VERSIONS_KEY = "input_versions"
"""Materialization metadata: the version token of each upstream read with no tag, by
dataset. The sensor requests a partition again only when one of them differs."""


OPENLINEAGE_RUN_KEY = "openlineage_run_id"
"""Materialization metadata, when OpenLineage is configured: the run id of its events."""


def ref_metadata(ref: GrosRef) -> dict[str, Any]:
    """What a materialization (or observation) of one version shows in the UI."""
    meta: dict[str, Any] = {
        URI_METADATA_KEY: MetadataValue.text(ref.version_uri),
        "lake_key": MetadataValue.path(ref.dataset.data_key(ref.date)),
    }
    if ref.sha256:
        meta["sha256"] = MetadataValue.text(ref.sha256)
    if ref.bytes is not None:
        meta["bytes"] = MetadataValue.int(ref.bytes)
    if ref.rows is not None:
        meta["dagster/row_count"] = MetadataValue.int(ref.rows)
    return meta


class LakeIOManager(ConfigurableIOManager):
    """Stores each daily partition at `asset/{repo}/{branch}/data/{DATE}.csv.gz`, the dataset
    named by the asset's `gros_uri` metadata.

    An output is a DataFrame for one partition, or a `{date: DataFrame}` dict for a partition
    range (a multi-run backfill batch). Inputs load one DataFrame per partition, a dict for
    several, or the version the input's `gros_uri` tag names (`latest`, a date, an index)."""

    lake: ResourceDependency[LakeResource]

    def handle_output(self, context: OutputContext, obj: pd.DataFrame | Mapping[str, Any]) -> None:
        if obj is None:
            return
        dataset = dataset_of(context.asset_key, context.definition_metadata)
        if not context.has_asset_partitions:
            raise LakeError(f"{dataset} is not partitioned: every lake dataset is daily")
        dates = list(context.asset_partition_keys)
        frames = _frames_by_date(dataset, dates, obj)
        step = context.step_context
        scope = step_scope(step)
        reads = lineage.reads(scope)
        lake = self.lake.get_lake()
        published: list[GrosRef] = []
        for date, df in frames.items():
            ups = lineage.upstreams_for(date, reads, aligned=len(frames) > 1)
            inputs = lineage.input_versions(date, reads)
            ref = lake.publish_encoded(
                codec.encode(df),
                dataset,
                date,
                upstreams=ups,
                producer=_producer(context),
                overwrite=True,  # a rematerialization replaces the partition by design
                columns=colspec.describe(df),
            )
            published.append(ref)
            meta = _version_metadata(ref, ups, inputs, df, context.definition_metadata)
            meta.update(branch_diff_metadata(lake, dataset, date, df))
            if openlineage.enabled():  # where to find this version's run in a catalog
                run = openlineage.Publish(lake.store.url, dataset, date, {"run_id": context.run_id})
                meta[OPENLINEAGE_RUN_KEY] = MetadataValue.text(run.run_id)
            if len(frames) > 1:
                step.add_asset_metadata(meta, asset_key=context.asset_key, partition_key=date)
        lineage.forget(scope)
        if len(published) == 1:  # `ref` and `meta` are the one partition's
            context.add_output_metadata(meta)
            step.set_data_version(context.asset_key, DataVersion(ref.sha256 or ""))
        else:
            # Text, not a number: it lands on every day's materialization, where a batch size
            # would plot as if it were a fact about that day.
            batch = f"{len(published)} partitions, {dates[0]}..{dates[-1]}"
            context.add_output_metadata({"batch": MetadataValue.text(batch)})
        uris = ", ".join(ref.version_uri for ref in published)
        context.log.info(f"published {uris} to {lake.store.url}")
        _send_lineage_events(context)

    def load_input(self, context: InputContext) -> pd.DataFrame | dict[str, pd.DataFrame]:
        """A missing upstream version fails the step with the lake's one-line message (which
        dataset, which date, what it has), not a load-input traceback: nothing to retry."""
        try:
            return self._load(context)
        except NotFound as e:
            raise Failure(
                description=f"input {context.name!r}: {e}. Nothing was published.",
                allow_retries=False,
            ) from None

    def _load(self, context: InputContext) -> pd.DataFrame | dict[str, pd.DataFrame]:
        declared = (context.definition_metadata or {}).get(URI_METADATA_KEY)
        if declared:
            uri = parse_uri(declared)
        else:
            upstream = context.upstream_output
            meta = upstream.definition_metadata if upstream is not None else None
            uri = GrosUri(dataset_of(context.asset_key, meta), TagKind.NONE)
        lake = self.lake.get_lake()
        scope = step_scope(context.step_context)
        if uri.kind is not TagKind.NONE:
            return lake.read(uri, scope=scope)
        if context.has_asset_partitions:
            keys = list(context.asset_partition_keys)
        elif context.has_partition_key:
            keys = [context.partition_key]
        else:
            return lake.read(uri, scope=scope)
        loaded = {key: lake.read(uri, partition=key, scope=scope) for key in keys}
        return loaded[keys[0]] if len(keys) == 1 else loaded


def _frames_by_date(dataset: DatasetId, dates: list[str], obj: Any) -> dict[str, pd.DataFrame]:
    if isinstance(obj, pd.DataFrame):
        if len(dates) != 1:
            raise LakeError(
                f"{dataset}: a run over {len(dates)} partitions ({dates[0]}..{dates[-1]}) must "
                "return a {date: DataFrame} dict, one frame per partition"
            )
        return {dates[0]: obj}
    if isinstance(obj, Mapping):
        missing = sorted(set(dates) - set(obj))
        extra = sorted(set(obj) - set(dates))
        if missing or extra:
            raise LakeError(
                f"{dataset}: the returned dict must hold exactly the run's partitions; "
                f"missing {missing[:5]}, unexpected {extra[:5]}"
            )
        return {d: obj[d] for d in dates}
    raise LakeError(f"{dataset}: an asset returns a DataFrame, not {type(obj).__name__}")


def _version_metadata(
    ref: GrosRef,
    upstreams: list[GrosRef],
    inputs: dict[str, str],
    df: pd.DataFrame,
    definition_metadata: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """One published partition's materialization metadata: numbers (`dagster/row_count`,
    `bytes`) as ints so the UI plots them per day, the columns as written (typed by the frame,
    described by the declared schema) and its first rows; nothing here reads the whole frame."""
    declared = (definition_metadata or {}).get("dagster/column_schema")
    return {
        **ref_metadata(ref),
        "upstreams": MetadataValue.json([json.loads(u.to_json()) for u in upstreams]),
        INPUT_VERSIONS_KEY: MetadataValue.json(inputs),
        "dagster/column_schema": MetadataValue.table_schema(frame_schema(df, declared)),
        "preview": MetadataValue.md(preview(df)),
    }


def _send_lineage_events(context: OutputContext) -> None:
    """Wait (bounded) for this step's OpenLineage events; a receiver that failed is a
    warning in the step's log, never a failed step."""
    if not openlineage.enabled():
        return
    if not openlineage.flush():
        context.log.warning("OpenLineage: events still queued; the receiver is slow or down")
    counts = openlineage.stats()
    if lost := counts["failed"] + counts["dropped"]:
        context.log.warning(
            f"OpenLineage: {lost} of {lost + counts['sent']} events of this process were not "
            "sent (the process log names why)"
        )


def _producer(context: OutputContext) -> dict[str, Any]:
    step = context.step_context
    assets_def = step.job_def.asset_layer.get(context.asset_key)
    compute_fn = getattr(step.op_def, "compute_fn", None)
    fn = getattr(compute_fn, "decorated_fn", None) or getattr(compute_fn, "fn", None)
    return {
        "asset_key": context.asset_key.path,
        "run_id": context.run_id,
        "job": step.dagster_run.job_name,
        "function": f"{fn.__module__}.{fn.__qualname__}" if fn else step.op_def.name,
        "parameters": dict(step.op_config or {}) if step.op_config else None,
        "code_version": assets_def.code_version,
        "partitions": list(context.asset_partition_keys),
        "tags": {k: v for k, v in step.dagster_run.tags.items() if k.startswith("dagster/")},
    }
