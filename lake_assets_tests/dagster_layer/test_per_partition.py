"""Checks and materialization metadata per day: a backfill batch (one run over a range of
partitions) records each day's `schema` and `quarantine_budget` evaluation on its own, naming
the day and pointing at that day's materialization, and each day's materialization carries its
own numbers, column types and first rows."""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd
import pandera.pandas as pa
import pytest
from dagster import (
    AssetCheckKey,
    AssetRecordsFilter,
    AssetsDefinition,
    DagsterInstance,
    IntMetadataValue,
    PreviewWarning,
    materialize,
)
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from lake_assets.dagster_layer.build import asset_key, build_assets, resolve
from lake_assets.dagster_layer.declare import dataset
from lake_assets.lake import DatasetId, Lake
from lake_assets_tests.dagster_layer.test_blocking_checks import (
    OUT,
    RANGE,
    checked,
    evaluations,
    publish,
    range_tags,
    run,
)

DAYS = ["2013-01-01", "2013-01-02", "2013-01-03"]
RAW = pa.DataFrameSchema(
    {
        "carrier": pa.Column(None, description="as delivered"),
        "delay": pa.Column(None, nullable=True),
    },
    name="RawDelivery",
)
RAW_OUT = DatasetId("raw_delivery", "master")


@dataset(
    repo="raw_delivery",
    layer="bronze",
    upstreams={"numbers": "gros://numbers"},
    schema=RAW,
    start_date="2013-01-01",
)
def raw_delivery(numbers: pd.DataFrame) -> pd.DataFrame:
    """A bronze-like dataset: its schema names columns but declares no types."""
    return pd.DataFrame(
        {
            "carrier": [f"C{n}" for n in numbers["n"]],
            "delay": numbers["n"] * 1.5,
            "n": numbers["n"],
            "at": pd.Timestamp("2013-01-01", tz="UTC"),
        }
    )


@pytest.mark.parametrize("lake_url", ["local"], indirect=True)
def test_a_range_records_each_days_checks_against_its_materialization(
    resources: dict[str, Any], lake: Lake
) -> None:
    drops = {
        "2013-01-01": [False] * 4,
        "2013-01-02": [True, False, False, False],
        "2013-01-03": [True, False, True, False, False, False, False, False],
    }
    for day, drop in drops.items():
        publish(day, list(range(len(drop))), drop=drop)
    instance = DagsterInstance.ephemeral()
    result = run(resources, tags=range_tags(*RANGE), instance=instance)
    assert result.success

    quarantine = evaluations(result, "quarantine_budget")
    assert list(quarantine) == DAYS
    assert {d: e.metadata["failing_row_count"].value for d, e in quarantine.items()} == {
        "2013-01-01": 0,
        "2013-01-02": 1,
        "2013-01-03": 2,
    }
    assert [e.metadata["quarantined_share"].value for e in quarantine.values()] == [0, 0.25, 0.25]
    assert all(e.passed and e.blocking for e in quarantine.values())
    schema = evaluations(result, "schema")
    assert {d: e.metadata["rows_checked"].value for d, e in schema.items()} == {
        "2013-01-01": 4,
        "2013-01-02": 3,
        "2013-01-03": 6,
    }

    key = asset_key(OUT)
    records = instance.fetch_materializations(AssetRecordsFilter(asset_key=key), limit=10).records
    materialized = {r.partition_key: r.storage_id for r in records}
    assert sorted(materialized) == DAYS
    for check in ("schema", "quarantine_budget"):
        check_key = AssetCheckKey(key, check)
        history = instance.event_log_storage.get_asset_check_execution_history(check_key, limit=10)
        assert sorted(r.partition for r in history) == DAYS
        assert {r.status for r in history} == {AssetCheckExecutionRecordStatus.SUCCEEDED}
        targets = {
            r.partition: r.evaluation.target_materialization_data.storage_id
            for r in history
            if r.evaluation and r.evaluation.target_materialization_data
        }
        assert targets == materialized
        infos = instance.event_log_storage.get_asset_check_partition_info([check_key])
        assert {i.partition_key for i in infos if i.is_current} == set(DAYS)

    mats = {
        e.partition: e.materialization.metadata for e in result.get_asset_materialization_events()
    }
    assert {d: m["quarantined_rows"].value for d, m in mats.items()} == {
        "2013-01-01": 0,
        "2013-01-02": 1,
        "2013-01-03": 2,
    }
    assert mats["2013-01-03"]["quarantined_by_reason"].value == {"marked drop": 2}
    for day, meta in mats.items():
        assert isinstance(meta["quarantined_rows"], IntMetadataValue)
        assert meta["dagster/row_count"].value == schema[day].metadata["rows_checked"].value


@pytest.mark.parametrize("lake_url", ["local"], indirect=True)
def test_a_bronze_dataset_shows_real_column_types_and_a_preview(
    resources: dict[str, Any], lake: Lake
) -> None:
    for i, day in enumerate(DAYS[:2]):
        publish(day, list(range(3 + 4 * i)))
    assets = build_assets(resolve([raw_delivery], "master"))
    [built] = [a for a in assets if isinstance(a, AssetsDefinition)]
    declared = built.specs_by_key[asset_key(RAW_OUT)].metadata["dagster/column_schema"]
    assert {c.name: c.type for c in declared.columns} == {"carrier": "any", "delay": "any"}

    result = materialize(
        assets, resources=resources, tags=range_tags(*DAYS[:2]), selection=[asset_key(RAW_OUT)]
    )
    assert result.success
    mats = {
        e.partition: e.materialization.metadata for e in result.get_asset_materialization_events()
    }
    assert sorted(mats) == DAYS[:2]
    for day, meta in mats.items():
        record = lake.record(RAW_OUT, day)
        assert record is not None
        assert isinstance(meta["dagster/row_count"], IntMetadataValue)
        assert isinstance(meta["bytes"], IntMetadataValue)
        assert meta["dagster/row_count"].value == record.gros_ref.rows
        assert meta["bytes"].value == len(lake.store.get(RAW_OUT.data_key(day)))
        columns = meta["dagster/column_schema"].value.columns
        assert [(c.name, c.type) for c in columns] == [
            ("carrier", "str"),
            ("delay", "float64"),
            ("n", "int64"),
            ("at", "datetime64[us, UTC]"),
        ]
        assert columns[0].description == "as delivered" and columns[2].description is None
        table = meta["preview"].value
        assert table.startswith("| carrier | delay | n | at |")
        assert "| C0 | 0.0 | 0 | 2013-01-01 00:00:00+00:00 |" in table
    assert [m["dagster/row_count"].value for m in mats.values()] == [3, 7]
    second = mats["2013-01-02"]["preview"].value
    assert "| C4 |" in second and "| C5 |" not in second, "the preview is the first 5 rows"
    assert second.endswith("First 5 of 7 rows.")


def test_partitioned_checks_are_built_without_preview_warnings() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        filters = list(warnings.filters)
        assets = build_assets(resolve([checked], "master"))
        assert warnings.filters == filters, "the filter is scoped to the check specs"
    assert not [w for w in caught if issubclass(w.category, PreviewWarning)]
    [built] = [a for a in assets if isinstance(a, AssetsDefinition)]
    specs = list(built.check_specs)
    assert {s.name for s in specs} == {"schema", "quarantine_budget"}
    assert all(s.partitions_def == built.partitions_def is not None for s in specs)
