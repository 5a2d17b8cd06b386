"""Benchmark: log cleanup of 10,000 old runs on PostgreSQL.

Two real runs (a partitioned asset materialization with a check, observation and log lines,
and an op job that touches no asset) give template event logs; 10,000 runs are cloned from
them straight into Dagster's ``runs``, ``run_tags``, ``event_logs`` and
``asset_check_executions`` tables with bulk inserts (run bodies and events serialized by
Dagster's serdes), aged 60 days. The cleanup then
runs with ``vacuum="full"`` and the bench reports time, rows removed per second,
``pg_database_size`` before and after, the share of the old runs' event-log bytes reclaimed,
and whether every asset query answers the same as before.

Usage: .venv/bin/python bench/cleanup_bench.py [--runs 10000] [--asset-share 0.7]
"""

import argparse
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import psycopg2
import sqlalchemy as db
from dagster._core.storage.event_log.schema import (
    AssetCheckExecutionsTable,
    SqlEventLogStorageTable,
)
from dagster._core.storage.partition_status_cache import _build_status_cache
from dagster._core.storage.runs.schema import RunsTable, RunTagsTable
from dagster_shared.serdes import serialize_value

from lake_assets.operations import CleanupSettings, clean_up_runs

DAILY = dg.DailyPartitionsDefinition(start_date="1990-01-01")
KEY = dg.AssetKey(["main", "bench_repo"])


@dg.asset(key=KEY, partitions_def=DAILY, check_specs=[dg.AssetCheckSpec("ok", asset=KEY)])
def bench_asset(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    for line in range(10):
        context.log.info(f"read chunk {line} of {context.partition_key}")
    context.log_event(dg.AssetObservation(asset_key=KEY, partition=context.partition_key))
    return dg.MaterializeResult(
        metadata={"rows": 1234, "path": f"s3://lake/bench/{context.partition_key}.csv.gz"},
        check_results=[dg.AssetCheckResult(passed=True)],
    )


@dg.op
def housekeeping(context: dg.OpExecutionContext) -> None:
    for line in range(10):
        context.log.info(f"housekeeping step {line}")


@dg.job
def no_asset_job() -> None:
    housekeeping()


def _create_database() -> tuple[str, str]:
    name = f"lake_bench_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    return name, f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"


def _drop_database(name: str) -> None:
    admin = psycopg2.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def _clone_runs(
    instance: dg.DagsterInstance, templates: dict[str, str], count: int, asset_share: float
) -> dict[str, int]:
    """Insert ``count`` finished runs, aged 60 days, with their events cloned from templates."""
    storage = instance.event_log_storage
    old = datetime.now(UTC) - timedelta(days=60)
    partitions = DAILY.get_partition_keys(current_time=datetime(2026, 1, 1, tzinfo=UTC))
    template_runs = {kind: instance.get_run_by_id(run_id) for kind, run_id in templates.items()}
    template_events = {
        kind: instance.get_records_for_run(run_id, limit=1000).records
        for kind, run_id in templates.items()
    }
    with storage.index_connection() as conn:
        template_checks = [
            dict(row._mapping)
            for row in conn.execute(
                AssetCheckExecutionsTable.select().where(
                    AssetCheckExecutionsTable.c.run_id == templates["asset"]
                )
            )
        ]
    run_rows: list[dict[str, Any]] = []
    tag_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    # Per event row: (cloned run, template storage id), to point check rows at cloned events.
    event_sources: list[tuple[str, int]] = []
    check_runs: list[tuple[str, str | None, datetime]] = []
    for index in range(count):
        kind = "asset" if index < count * asset_share else "plain"
        run_id = str(uuid.uuid4())
        partition = partitions[index % len(partitions)] if kind == "asset" else None
        created = old + timedelta(seconds=index)
        template = template_runs[kind]
        assert template is not None
        tags = {**template.tags, **({"dagster/partition": partition} if partition else {})}
        run = template.with_status(dg.DagsterRunStatus.SUCCESS)._replace(run_id=run_id, tags=tags)
        run_rows.append(
            {
                "run_id": run_id,
                "snapshot_id": run.job_snapshot_id,
                "pipeline_name": run.job_name,
                "status": run.status.value,
                "run_body": serialize_value(run),
                "partition": partition,
                "create_timestamp": created.replace(tzinfo=None),
                "update_timestamp": (created + timedelta(seconds=30)).replace(tzinfo=None),
                "start_time": created.timestamp(),
                "end_time": created.timestamp() + 30,
            }
        )
        tag_rows += [{"run_id": run_id, "key": key, "value": value} for key, value in tags.items()]
        template_partition = template.tags.get("dagster/partition")
        if kind == "asset":
            check_runs.append((run_id, partition, created))
        for record in template_events[kind]:
            entry = record.event_log_entry
            event_sources.append((run_id, record.storage_id))
            event = entry._replace(run_id=run_id, timestamp=created.timestamp() + 1)
            serialized = serialize_value(event)
            if partition and template_partition:
                serialized = serialized.replace(f'"{template_partition}"', f'"{partition}"')
            dagster_event = entry.dagster_event
            event_rows.append(
                {
                    "run_id": run_id,
                    "event": serialized,
                    "dagster_event_type": dagster_event.event_type_value if dagster_event else None,
                    "timestamp": datetime.fromtimestamp(created.timestamp() + 1),
                    "step_key": entry.step_key,
                    "asset_key": dagster_event.asset_key.to_string()
                    if dagster_event and dagster_event.asset_key
                    else None,
                    "partition": partition if dagster_event and dagster_event.partition else None,
                }
            )
    with instance.run_storage.connect() as conn:
        conn.execute(RunsTable.insert(), run_rows)
        conn.execute(RunTagsTable.insert(), tag_rows)
    cloned: dict[tuple[str, int], tuple[int, str]] = {}
    insert = SqlEventLogStorageTable.insert().returning(
        SqlEventLogStorageTable.c.id, sort_by_parameter_order=True
    )
    with storage.index_connection() as conn:
        for start in range(0, len(event_rows), 20_000):
            chunk = event_rows[start : start + 20_000]
            ids = [row[0] for row in conn.execute(insert, chunk)]
            for source, row, storage_id in zip(
                event_sources[start : start + 20_000], chunk, ids, strict=True
            ):
                cloned[source] = (storage_id, row["event"])
        check_rows = _clone_check_rows(template_checks, check_runs, cloned)
        conn.execute(AssetCheckExecutionsTable.insert(), check_rows)
    return {"runs": len(run_rows), "events": len(event_rows), "check_rows": len(check_rows)}


def _clone_check_rows(
    template_checks: list[dict[str, Any]],
    check_runs: list[tuple[str, str | None, datetime]],
    cloned: dict[tuple[str, int], tuple[int, str]],
) -> list[dict[str, Any]]:
    """The ``asset_check_executions`` rows Dagster writes for each cloned asset run (its planned
    row and its evaluation row), pointing at that run's cloned events."""
    rows: list[dict[str, Any]] = []
    for run_id, partition, created in check_runs:
        for template in template_checks:
            evaluation_id, evaluation_event = cloned[
                (run_id, template["evaluation_event_storage_id"])
            ]
            materialization = template["materialization_event_storage_id"]
            rows.append(
                {
                    "asset_key": template["asset_key"],
                    "check_name": template["check_name"],
                    "partition": partition if template["partition"] else None,
                    "run_id": run_id,
                    "execution_status": template["execution_status"],
                    "evaluation_event": evaluation_event,
                    "evaluation_event_timestamp": (created + timedelta(seconds=1)).replace(
                        tzinfo=None
                    ),
                    "evaluation_event_storage_id": evaluation_id,
                    "materialization_event_storage_id": cloned[(run_id, materialization)][0]
                    if materialization
                    else None,
                    "create_timestamp": created.replace(tzinfo=None),
                }
            )
    return rows


def _partition_panels(
    instance: dg.DagsterInstance, materializations: list[dg.EventLogRecord]
) -> dict[str, Any]:
    """What the UI's partition panel shows besides the materialization: the run of the
    partition's newest plan (``latestRunForPartition``), only when it is not the run of the
    latest materialization and failed, was canceled or is still queued or running. Checked on
    every 10th partition and the 10 last materialized (one query each; all take minutes)."""
    latest_run: dict[str, str] = {}
    for record in materializations:  # newest first
        partition = record.partition_key
        if partition is not None and partition not in latest_run:
            latest_run[partition] = record.run_id
    sample = sorted(set(sorted(latest_run)[::10]) | set(list(latest_run)[:10]))
    planned = {
        partition: instance.get_latest_planned_materialization_info(KEY, partition)
        for partition in sample
    }
    run_ids = sorted({info.run_id for info in planned.values() if info})
    statuses = {
        record.dagster_run.run_id: record.dagster_run.status.value
        for start in range(0, len(run_ids), 500)
        for record in instance.get_run_records(dg.RunsFilter(run_ids=run_ids[start : start + 500]))
    }
    panels = {}
    for partition, info in planned.items():
        status = statuses.get(info.run_id) if info else None
        shown = info is not None and info.run_id != latest_run[partition]
        panels[partition] = (info.run_id, status) if shown and status in _PANEL_STATUSES else None
    return panels


_PANEL_STATUSES = {"FAILURE", "CANCELED", "STARTED", "STARTING", "QUEUED"}


def _asset_view(instance: dg.DagsterInstance) -> dict[str, Any]:
    records = instance.fetch_materializations(KEY, limit=10_000).records
    observations = instance.fetch_observations(KEY, limit=10_000).records
    check_key = dg.AssetCheckKey(KEY, "ok")
    storage = instance.event_log_storage
    partitions = sorted(instance.get_materialized_partitions(KEY))
    asset_record = next(iter(instance.get_asset_records([KEY])))
    with dg.partition_loading_context(dynamic_partitions_store=instance):
        status = _build_status_cache(instance, KEY, DAILY, None, asset_record)
    assert status is not None
    return {
        "materializations": [(r.storage_id, serialize_value(r.event_log_entry)) for r in records],
        "observations": [r.storage_id for r in observations],
        "partitions": partitions,
        "latest_by_partition": storage.get_latest_storage_id_by_partition(
            KEY, dg.DagsterEventType.ASSET_MATERIALIZATION
        ),
        "latest": serialize_value(instance.get_latest_materialization_event(KEY)),
        "asset_record": repr(asset_record.asset_entry),
        "latest_plan": repr(instance.get_latest_planned_materialization_info(KEY)),
        "status": (
            status.latest_storage_id,
            status.serialized_materialized_partition_subset,
            status.serialized_failed_partition_subset,
            status.serialized_in_progress_partition_subset,
        ),
        "partition_panels": _partition_panels(instance, list(records)),
        "checks": repr(storage.get_asset_check_execution_history(check_key, limit=20_000)),
    }


def _sizes(engine: db.engine.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            "database": conn.execute(
                db.text("SELECT pg_database_size(current_database())")
            ).scalar(),
            "event_logs": conn.execute(
                db.text("SELECT pg_total_relation_size('event_logs')")
            ).scalar(),
            "event_rows": conn.execute(db.text("SELECT count(*) FROM event_logs")).scalar(),
        }


def _bytes_by_type(engine: db.engine.Engine) -> dict[str, tuple[int, int]]:
    """Rows and bytes of serialized event per event type (``<log>`` for plain log lines)."""
    with engine.connect() as conn:
        rows = conn.execute(
            db.text(
                "SELECT coalesce(dagster_event_type, '<log>'), count(*), sum(octet_length(event))"
                " FROM event_logs GROUP BY 1"
            )
        ).fetchall()
    return {event_type: (int(count), int(size)) for event_type, count, size in rows}


def _print_by_type(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> None:
    total = sum(size for _, size in before.values())
    print(
        f"  {'event type':32} {'rows before':>11} {'rows after':>10} {'bytes before':>13} "
        f"{'share':>6} {'bytes after':>12} {'share':>6}"
    )
    for event_type, (count, size) in sorted(before.items(), key=lambda item: -item[1][1]):
        kept_count, kept_size = after.get(event_type, (0, 0))
        print(
            f"  {event_type:32} {count:11,} {kept_count:10,} {size:13,} {size / total:6.1%} "
            f"{kept_size:12,} {kept_size / total:6.1%}"
        )


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--asset-share", type=float, default=0.7)
    args = parser.parse_args()
    name, url = _create_database()
    try:
        with dg.instance_for_test(
            overrides={"storage": {"postgres": {"postgres_url": url}}}
        ) as instance:
            templates = {
                "asset": dg.materialize(
                    [bench_asset], instance=instance, partition_key="2000-01-01"
                ).run_id,
                "plain": no_asset_job.execute_in_process(instance=instance).run_id,
            }
            engine = instance.event_log_storage._engine
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM FULL")
            empty = _sizes(engine)

            started = time.perf_counter()
            made = _clone_runs(instance, templates, args.runs, args.asset_share)
            create_seconds = time.perf_counter() - started
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
            loaded = _sizes(engine)
            types_before = _bytes_by_type(engine)
            before = _asset_view(instance)

            started = time.perf_counter()
            report = clean_up_runs(
                instance, CleanupSettings(retention_days=30, batch_size=1000, vacuum="full")
            )
            cleanup_seconds = time.perf_counter() - started
            after_sizes = _sizes(engine)
            types_after = _bytes_by_type(engine)
            intact = before == _asset_view(instance)

        old_bytes = loaded["event_logs"] - empty["event_logs"]
        reclaimed = loaded["event_logs"] - after_sizes["event_logs"]
        rows_removed = report.events_removed + report.runs_deleted
        print(
            f"created {made['runs']} runs / {made['events']} events / {made['check_rows']} "
            f"check executions by bulk insert in {create_seconds:.1f} s"
        )
        print(f"cleanup: {cleanup_seconds:.1f} s (target < 60 s), incl. VACUUM FULL")
        print(
            f"  runs deleted whole {report.runs_deleted}, runs pruned {report.runs_pruned}, "
            f"events removed {report.events_removed} "
            f"({_mib(report.event_bytes_removed)} of event JSON)"
        )
        print(f"  rows removed per second: {rows_removed / cleanup_seconds:,.0f}")
        print(
            f"  pg_database_size: {_mib(loaded['database'])} -> {_mib(after_sizes['database'])}; "
            f"event_logs (with indexes): {_mib(loaded['event_logs'])} -> "
            f"{_mib(after_sizes['event_logs'])}"
        )
        print(
            f"  old runs' event-log bytes {_mib(old_bytes)}, reclaimed {_mib(reclaimed)} = "
            f"{reclaimed / old_bytes:.0%} (target >= 80%)"
        )
        print(f"  event rows: {loaded['event_rows']} -> {after_sizes['event_rows']}")
        print(f"  asset history intact: {intact}")
        print("event_logs by type (share of all event bytes before cleanup):")
        _print_by_type(types_before, types_after)
    finally:
        _drop_database(name)


if __name__ == "__main__":
    main()
