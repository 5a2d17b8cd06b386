"""Everything the UI reads about assets, captured through the instance so it can be compared
before and after a cleanup."""

from typing import Any

import dagster as dg
from dagster import DagsterInstance
from dagster._core.events import DagsterEventType
from dagster._core.storage.partition_status_cache import _build_status_cache
from dagster_shared.serdes import serialize_value


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
    partitions and partition status of every asset."""
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
            "checks": _checks(instance, dg.AssetCheckKey(key, "has_rows")),
        }
    snapshot["dynamic_partitions"] = instance.get_dynamic_partitions("teams")
    return snapshot
