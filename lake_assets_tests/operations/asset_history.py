"""Everything the UI reads about assets, captured through the instance so it can be compared
before and after a cleanup."""

from datetime import UTC, datetime
from typing import Any

import dagster as dg
from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.events import DagsterEventType
from dagster._core.storage.partition_status_cache import (
    _build_status_cache,
    get_and_update_asset_status_cache_value,
)
from dagster_shared.serdes import serialize_value

PANEL_UNTIL = datetime(2024, 1, 10, tzinfo=UTC)
"""Time partitions up to here get their partition panel captured (the scenario's all do)."""

BANNER_STATUSES = {DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
ALERT_STATUSES = {DagsterRunStatus.STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.QUEUED}


def _records(records: Any) -> list[tuple[int, str]]:
    return [(record.storage_id, serialize_value(record.event_log_entry)) for record in records]


def _status(
    instance: DagsterInstance, key: dg.AssetKey, partitions_def: dg.PartitionsDefinition
) -> dict[str, Any]:
    """Partition status as the UI computes it, from scratch (no cached value)."""
    record = next(iter(instance.get_asset_records([key])), None)
    with dg.partition_loading_context(dynamic_partitions_store=instance):
        value = _build_status_cache(instance, key, partitions_def, None, record)
        return _subsets(value, partitions_def)


def _cached_status(
    instance: DagsterInstance, key: dg.AssetKey, partitions_def: dg.PartitionsDefinition
) -> dict[str, Any]:
    """Partition status as the asset page gets it: updated from the cache stored in the asset's
    row (the capture before a cleanup stores it, the one after updates it incrementally)."""
    value = get_and_update_asset_status_cache_value(instance, key, partitions_def)
    with dg.partition_loading_context(dynamic_partitions_store=instance):
        return _subsets(value, partitions_def)


def _panel(instance: DagsterInstance, key: dg.AssetKey, partition: str) -> tuple | None:
    """What the partition panel (``AssetPartitionDetail.tsx``) shows about runs: the run of the
    partition's newest plan (GraphQL ``latestRunForPartition``) unless it is the run of the
    latest materialization, as a failure banner if it failed or was canceled, as a "has started"
    alert if it is queued, starting or running, and not at all otherwise."""
    planned = instance.get_latest_planned_materialization_info(key, partition)
    run = instance.get_run_record_by_id(planned.run_id) if planned else None
    latest = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    ).records
    latest_run = (
        latest[0].run_id if latest and instance.get_run_record_by_id(latest[0].run_id) else None
    )
    if run is None or run.dagster_run.run_id == latest_run:
        return None
    status = run.dagster_run.status
    if status in BANNER_STATUSES:
        return ("failed since materialization", run.dagster_run.run_id, status.value)
    if status in ALERT_STATUSES:
        return ("run has started", run.dagster_run.run_id, status.value)
    return None


def _panels(
    instance: DagsterInstance, key: dg.AssetKey, partitions_def: dg.PartitionsDefinition
) -> dict[str, tuple | None]:
    with dg.partition_loading_context(dynamic_partitions_store=instance):
        partitions = partitions_def.get_partition_keys(current_time=PANEL_UNTIL)
    return {partition: _panel(instance, key, partition) for partition in partitions}


def _subsets(value: Any, partitions_def: dg.PartitionsDefinition) -> dict[str, Any]:
    assert value is not None
    return {
        "materialized": sorted(
            value.deserialize_materialized_partition_subsets(partitions_def).get_partition_keys()
        ),
        "failed": sorted(
            value.deserialize_failed_partition_subsets(partitions_def).get_partition_keys()
        ),
        "in_progress": sorted(
            value.deserialize_in_progress_partition_subsets(partitions_def).get_partition_keys()
        ),
        "latest_storage_id": value.latest_storage_id,
    }


def _checks(instance: DagsterInstance, check_key: dg.AssetCheckKey) -> dict[str, Any]:
    storage = instance.event_log_storage
    summary = storage.get_asset_check_summary_records([check_key]).get(check_key)
    return {
        "history": [
            repr(execution)
            for execution in storage.get_asset_check_execution_history(check_key, limit=1000)
        ],
        "summary": repr(summary),
    }


def capture(
    instance: DagsterInstance, partitions_defs: dict[dg.AssetKey, dg.PartitionsDefinition]
) -> dict[str, Any]:
    """Asset records, materializations, observations, check executions, tags, dynamic
    partitions, partition status (from scratch and from the stored cache) and each partition's
    panel of every asset."""
    snapshot: dict[str, Any] = {}
    keys = list(partitions_defs)
    storage = instance.event_log_storage
    latest = instance.get_latest_materialization_events(keys)
    for key, partitions_def in partitions_defs.items():
        name = key.to_user_string()
        record = next(iter(instance.get_asset_records([key])))
        entry = record.asset_entry
        snapshot[name] = {
            "latest_materialization": serialize_value(latest[key]),
            "asset_entry": (
                entry.last_materialization_storage_id,
                serialize_value(entry.last_materialization_record),
                entry.last_run_id,
                entry.last_planned_materialization_storage_id,
                entry.last_planned_materialization_run_id,
                entry.last_observation_record and serialize_value(entry.last_observation_record),
            ),
            "materialized_partitions": sorted(instance.get_materialized_partitions(key)),
            "materializations": _records(
                instance.fetch_materializations(key, limit=1000, ascending=True).records
            ),
            "observations": _records(
                instance.fetch_observations(key, limit=1000, ascending=True).records
            ),
            "planned": repr(instance.get_latest_planned_materialization_info(key)),
            "latest_by_partition": {
                partition: _records(
                    instance.fetch_materializations(
                        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
                    ).records
                )
                for partition in sorted(instance.get_materialized_partitions(key))
            },
            "storage_id_by_partition": storage.get_latest_storage_id_by_partition(
                key, DagsterEventType.ASSET_MATERIALIZATION
            ),
            "attempts_without_materialization": (
                storage.get_latest_asset_partition_materialization_attempts_without_materializations(
                    key
                )
            ),
            "event_tags": instance.get_event_tags_for_asset(key),
            "status": _status(instance, key, partitions_def),
            "cached_status": _cached_status(instance, key, partitions_def),
            "partition_panels": _panels(instance, key, partitions_def),
            "checks": _checks(instance, dg.AssetCheckKey(key, "has_rows")),
        }
    snapshot["dynamic_partitions"] = instance.get_dynamic_partitions("teams")
    return snapshot
