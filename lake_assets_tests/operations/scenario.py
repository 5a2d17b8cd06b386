"""A small but complete run history to clean up: partitioned materializations with metadata,
observations, asset checks, a failed partition, a partition retried after a failure, a stuck
run whose planned partitions another run later materialized (or nobody did), dynamic
partitions, runs that touch no asset, a recent run, and queued and in-progress runs."""

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import dagster as dg
from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.events import (
    AssetMaterializationPlannedData,
    DagsterEvent,
    DagsterEventType,
    EngineEventData,
)
from dagster._core.test_utils import create_run_for_test

DAILY = dg.DailyPartitionsDefinition(start_date="2024-01-01")
TEAMS = dg.DynamicPartitionsDefinition(name="teams")
FAILING_PARTITION = "2024-01-04"
OLD_PARTITIONS = ["2024-01-01", "2024-01-02", "2024-01-03"]
RECENT_PARTITION = "2024-01-05"
RETRIED_PARTITION = "2024-01-06"
"""Fails once, then succeeds: the retry's plan must stay, or the failed run would become the
partition's latest run."""
STUCK_PARTITIONS = ["2024-01-07", "2024-01-08"]
"""Planned by a run that never finishes; the first is then materialized by another run, the
second stays in progress."""
FAIL_TAG = "lake_assets_tests/fail"


@dg.asset(
    key=["main", "team_repo"],
    partitions_def=DAILY,
    check_specs=[dg.AssetCheckSpec("has_rows", asset=dg.AssetKey(["main", "team_repo"]))],
)
def daily(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    partition = context.partition_key
    print(f"stdout of {partition}")
    for line in range(5):
        context.log.info(f"processing {partition} line {line}")
    if partition == FAILING_PARTITION or context.run.tags.get(FAIL_TAG):
        raise RuntimeError(f"bad input for {partition}")
    context.log_event(
        dg.AssetObservation(
            asset_key=context.asset_key, partition=partition, metadata={"seen": partition}
        )
    )
    return dg.MaterializeResult(
        metadata={"rows": int(partition[-2:]) * 10, "path": f"s3://lake/{partition}.csv.gz"},
        check_results=[dg.AssetCheckResult(passed=True, metadata={"checked": partition})],
    )


@dg.asset(partitions_def=TEAMS)
def per_team(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"team": context.partition_key})


@dg.op
def chatty(context: dg.OpExecutionContext) -> None:
    print("an op with no asset")
    for line in range(20):
        context.log.info(f"log line {line}")


@dg.job
def no_asset_job() -> None:
    chatty()


ASSETS = [daily, per_team]
ASSET_KEYS = [daily.key, per_team.key]
PARTITIONS_DEFS = {daily.key: DAILY, per_team.key: TEAMS}


@dataclass
class History:
    """What the scenario made; ``boundary`` separates old runs from recent ones."""

    boundary: datetime
    asset_runs: list[str] = field(default_factory=list)
    failed_runs: list[str] = field(default_factory=list)
    no_asset_runs: list[str] = field(default_factory=list)
    recent_runs: list[str] = field(default_factory=list)
    unfinished_runs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Built:
    """An instance holding the scenario's history, and what the scenario made."""

    instance: DagsterInstance
    history: History


def _materialize(
    instance: DagsterInstance, asset: dg.AssetsDefinition, partition: str, fail: bool = False
) -> str:
    result = dg.materialize(
        [asset],
        instance=instance,
        partition_key=partition,
        raise_on_error=False,
        tags={FAIL_TAG: "yes"} if fail else None,
    )
    return result.run_id


def _unfinished_run(
    instance: DagsterInstance, status: DagsterRunStatus, planned: list[str] | None = None
) -> str:
    """A run stuck in ``status``, with a few engine events and optionally plans for partitions
    of the daily asset (as a run launched for them writes before it starts them)."""
    run = create_run_for_test(instance, job_name="still_going", status=status)
    for partition in planned or []:
        instance.report_dagster_event(
            DagsterEvent(
                event_type_value=DagsterEventType.ASSET_MATERIALIZATION_PLANNED.value,
                job_name="still_going",
                message=f"still_going intends to materialize {partition}",
                event_specific_data=AssetMaterializationPlannedData(daily.key, partition),
            ),
            run_id=run.run_id,
        )
    for index in range(3):
        instance.report_dagster_event(
            DagsterEvent(
                event_type_value=DagsterEventType.ENGINE_EVENT.value,
                job_name="still_going",
                message=f"working {index}",
                event_specific_data=EngineEventData(),
            ),
            run_id=run.run_id,
        )
    return run.run_id


def build_history(instance: DagsterInstance) -> History:
    """Old finished and unfinished runs, then a boundary, then recent runs."""
    instance.add_dynamic_partitions("teams", ["red", "blue"])
    asset_runs = [_materialize(instance, daily, partition) for partition in OLD_PARTITIONS]
    asset_runs += [_materialize(instance, per_team, team) for team in ("red", "blue")]
    asset_runs.append(_materialize(instance, daily, OLD_PARTITIONS[0]))  # a re-materialization
    failed = [
        _materialize(instance, daily, FAILING_PARTITION),
        _materialize(instance, daily, RETRIED_PARTITION, fail=True),
    ]
    asset_runs.append(_materialize(instance, daily, RETRIED_PARTITION))
    stuck = _unfinished_run(instance, DagsterRunStatus.STARTED, planned=STUCK_PARTITIONS)
    asset_runs.append(_materialize(instance, daily, STUCK_PARTITIONS[0]))
    no_asset = [
        no_asset_job.execute_in_process(instance=instance).run_id,
        no_asset_job.execute_in_process(instance=instance).run_id,
    ]
    unfinished = [
        stuck,
        _unfinished_run(instance, DagsterRunStatus.NOT_STARTED),
        _unfinished_run(instance, DagsterRunStatus.STARTED),
    ]
    time.sleep(1.1)
    boundary = datetime.now(UTC)
    time.sleep(1.1)
    recent = [
        _materialize(instance, daily, RECENT_PARTITION),
        no_asset_job.execute_in_process(instance=instance).run_id,
    ]
    return History(
        boundary=boundary,
        asset_runs=asset_runs,
        failed_runs=failed,
        no_asset_runs=no_asset,
        recent_runs=recent,
        unfinished_runs=unfinished,
    )
