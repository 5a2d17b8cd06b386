"""A dataset that fails its checks publishes nothing: no data object, no production record,
no audit object, `latest` where it was; the check result carries the failing rows."""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd
import pandera.pandas as pa
import pytest
from dagster import AssetCheckKey, AssetKey, DagsterInstance, materialize
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

import lake_assets
from lake_assets.dagster_layer.build import asset_key, build_assets, resolve
from lake_assets.dagster_layer.context import DatasetContext
from lake_assets.dagster_layer.declare import dataset
from lake_assets.lake import DatasetId, Lake

SCHEMA = pa.DataFrameSchema({"n": pa.Column(int, pa.Check.ge(0))}, name="NonNegative")
SOURCE = DatasetId("numbers", "master")
OUT = DatasetId("checked", "master")


@dataset(
    repo="checked",
    layer="silver",
    upstreams={"numbers": "gros://numbers"},
    schema=SCHEMA,
    start_date="2013-01-01",
    quarantine_budget=0.25,
)
def checked(numbers: pd.DataFrame, context: DatasetContext) -> pd.DataFrame:
    """Rows marked `drop` are quarantined; the rest are shifted by `shift`."""
    context.count_input(len(numbers))
    context.quarantine(numbers[numbers["drop"]], "marked drop")
    kept = numbers[~numbers["drop"]]
    return pd.DataFrame({"n": kept["n"] + kept["shift"]})


ASSETS = build_assets(resolve([checked], "master"))
RANGE = "2013-01-01", "2013-01-03"


def publish(
    date: str,
    n: list[int],
    shift: int = 0,
    drop: list[bool] | None = None,
    *,
    overwrite: bool = False,
) -> None:
    frame = pd.DataFrame({"n": n, "shift": shift, "drop": drop or [False] * len(n)})
    lake_assets.publish(frame, SOURCE.repo, SOURCE.branch, date, upstreams=[], overwrite=overwrite)


def run(resources: dict[str, Any], **kw: Any):
    return materialize(
        ASSETS,
        resources=resources,
        raise_on_error=False,
        selection=[AssetKey(["master", "checked"])],
        **kw,
    )


def check_evaluations(result) -> dict[str, Any]:
    return {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def evaluations(result, check: str) -> dict[str, Any]:
    """One check's evaluations in a run by the partition each names, in the order emitted."""
    found: dict[str, Any] = {}
    for e in result.all_events:
        if e.event_type_value != "ASSET_CHECK_EVALUATION":
            continue
        data = e.asset_check_evaluation_data
        if data.check_name == check:
            assert data.partition not in found, f"{check}: two evaluations of {data.partition}"
            found[data.partition] = data
    return found


def range_tags(start: str, end: str) -> dict[str, str]:
    """The run tags a multi-run backfill puts on each batch."""
    return {ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end}


def failure_message(result) -> str:
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    return failure.step_failure_data.user_failure_data.description


def keys_under(lake: Lake, prefix: str) -> set[str]:
    return {o.key for o in lake.store.list(prefix)}


def test_a_failing_check_publishes_nothing(resources: dict[str, Any], lake: Lake) -> None:
    publish("2013-01-01", [1, 2, 3])
    assert run(resources, partition_key="2013-01-01").success
    before = keys_under(lake, "")
    latest_before = lake.store.get(OUT.latest_key)

    publish("2013-01-02", [1, 2, 3], shift=-3)
    result = run(resources, partition_key="2013-01-02")

    assert not result.success
    assert "checked/master, partition 2013-01-02: check 'schema' failed" in failure_message(result)
    assert "2 of 3 rows break NonNegative" in failure_message(result)
    schema = check_evaluations(result)["schema"]
    assert not schema.passed and schema.blocking
    assert schema.partition == "2013-01-02"
    assert schema.metadata["failing_row_count"].value == 2
    assert "| n |" in schema.metadata["failing_rows_sample"].value
    assert "| -1 |" in schema.metadata["failing_rows_sample"].value
    assert "greater_than_or_equal_to(0)" in schema.metadata["failure_cases"].value
    assert not result.get_asset_materialization_events()
    new = keys_under(lake, "") - before
    assert new == {
        SOURCE.data_key("2013-01-02"),
        SOURCE.record_key("2013-01-02"),
    }, "only the source's own publication is new"
    assert lake.store.get(OUT.latest_key) == latest_before
    assert lake.dates(OUT) == ["2013-01-01"]


def test_a_failing_republication_leaves_the_old_version(
    resources: dict[str, Any], lake: Lake
) -> None:
    publish("2013-01-01", [5])
    assert run(resources, partition_key="2013-01-01").success
    data = lake.store.get(OUT.data_key("2013-01-01"))
    record = lake.store.get(OUT.record_key("2013-01-01"))
    publish("2013-01-01", [5], shift=-10, overwrite=True)
    assert not run(resources, partition_key="2013-01-01").success
    assert lake.store.get(OUT.data_key("2013-01-01")) == data
    assert lake.store.get(OUT.record_key("2013-01-01")) == record
    assert lake_assets.read("gros://checked")["n"].tolist() == [5]


def test_a_range_with_one_bad_day_publishes_no_day(resources: dict[str, Any], lake: Lake) -> None:
    publish("2013-01-01", [1])
    publish("2013-01-02", [1, 2, 9], shift=-5)
    publish("2013-01-03", [1])
    instance = DagsterInstance.ephemeral()
    result = run(resources, tags=range_tags(*RANGE), instance=instance)
    assert not result.success
    assert "partition 2013-01-02: check 'schema' failed" in failure_message(result)
    days = ["2013-01-01", "2013-01-02", "2013-01-03"]
    schema = evaluations(result, "schema")
    assert list(schema) == days
    assert [e.passed for e in schema.values()] == [True, False, True]
    bad = schema["2013-01-02"]
    assert bad.blocking and bad.metadata["rows_checked"].value == 3
    assert bad.metadata["failing_row_count"].value == 2
    assert "| -4 |" in bad.metadata["failing_rows_sample"].value
    assert "| 4 |" not in bad.metadata["failing_rows_sample"].value
    assert "nothing was published: 2013-01-02 failed" in (schema["2013-01-01"].description or "")
    assert list(evaluations(result, "quarantine_budget")) == days
    history = instance.event_log_storage.get_asset_check_execution_history(
        AssetCheckKey(asset_key(OUT), "schema"), limit=10
    )
    assert {r.partition: r.status for r in history} == {
        "2013-01-01": AssetCheckExecutionRecordStatus.SUCCEEDED,
        "2013-01-02": AssetCheckExecutionRecordStatus.FAILED,
        "2013-01-03": AssetCheckExecutionRecordStatus.SUCCEEDED,
    }
    assert not result.get_asset_materialization_events()
    assert lake.dates(OUT) == []
    assert lake.store.head(OUT.latest_key) is None


def test_a_range_writes_one_object_per_date(resources: dict[str, Any], lake: Lake) -> None:
    for i, date in enumerate(["2013-01-01", "2013-01-02", "2013-01-03"]):
        publish(date, [i, i + 10])
    tags = dict(
        zip([ASSET_PARTITION_RANGE_START_TAG, ASSET_PARTITION_RANGE_END_TAG], RANGE, strict=True)
    )
    result = run(resources, tags=tags)
    assert result.success
    assert lake.dates(OUT) == ["2013-01-01", "2013-01-02", "2013-01-03"]
    for i, date in enumerate(lake.dates(OUT)):
        assert lake_assets.read(f"gros://checked:{date}")["n"].tolist() == [i, i + 10]
        record = lake.record(OUT, date)
        assert record is not None
        [up] = record.upstreams
        assert (up.repo, up.date) == ("numbers", date)
        assert up.sha256 == hashlib.sha256(lake.store.get(SOURCE.data_key(date))).hexdigest()
        assert lake.downstream_versions(SOURCE, date)[0].date == date
    assert lake.latest_pointer(OUT)[0].date == "2013-01-03"
    assert {e.partition for e in result.get_asset_materialization_events()} == set(lake.dates(OUT))


def test_quarantine_within_budget_publishes_with_counts(
    resources: dict[str, Any], lake: Lake
) -> None:
    publish("2013-01-01", [1, 2, 3, 4, 5], drop=[True, False, False, False, False])
    result = run(resources, partition_key="2013-01-01")
    assert result.success
    q = check_evaluations(result)["quarantine_budget"]
    assert q.passed
    assert q.metadata["quarantined_by_reason"].value == {"marked drop": 1}
    [mat] = result.get_asset_materialization_events()
    assert mat.materialization.metadata["quarantined_rows"].value == 1
    assert lake_assets.read("gros://checked")["n"].tolist() == [2, 3, 4, 5]


def test_quarantine_over_budget_fails(resources: dict[str, Any], lake: Lake) -> None:
    publish("2013-01-01", [1, 2, 3], drop=[True, True, False])
    result = run(resources, partition_key="2013-01-01")
    assert not result.success
    assert "check 'quarantine_budget' failed: 2 of 3 rows (66.7%)" in failure_message(result)
    assert "marked drop (2)" in failure_message(result)
    assert lake.dates(OUT) == []


def test_a_function_error_names_dataset_and_partition(
    resources: dict[str, Any], lake: Lake
) -> None:
    lake_assets.publish(pd.DataFrame({"m": [1]}), "numbers", None, "2013-01-01", upstreams=[])
    result = run(resources, partition_key="2013-01-01")
    assert not result.success
    message = failure_message(result)
    assert "dataset checked/master, partition 2013-01-01: checked raised KeyError" in message
    assert lake.dates(OUT) == []


@pytest.mark.parametrize("lake_url", ["local"], indirect=True)
def test_a_branch_with_a_slash_materializes(
    lake_env: str, lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lake_assets_tests.dagster_layer.conftest import lake_resources

    publish("2013-01-01", [7])
    assets = build_assets(resolve([checked], "feature/x"))
    result = materialize(
        assets,
        resources=lake_resources(lake_env),
        partition_key="2013-01-01",
        selection=[AssetKey(["feature.x", "checked"])],
    )
    assert result.success
    assert lake.dates(DatasetId("checked", "feature/x")) == ["2013-01-01"]
    assert lake.dates(OUT) == []
