"""The gzip-CSV IO manager through real `materialize` runs, on a local lake and on S3."""

import datetime as dt
import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetSpec,
    BackfillPolicy,
    DagsterInstance,
    DailyPartitionsDefinition,
    IntMetadataValue,
    asset,
    materialize,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from lake_assets.dagster_layer.io_manager import LakeIOManager
from lake_assets.dagster_layer.resources import LakeResource
from lake_assets.lake import DatasetId, GrosRef, Lake

DAILY = DailyPartitionsDefinition(start_date="2013-01-01")
FLIGHTS = DatasetId("flights", "master")
DAILY_DS = DatasetId("daily", "master")


@asset(key=["master", "flights"], partitions_def=DAILY, backfill_policy=BackfillPolicy.multi_run(5))
def flights(context: AssetExecutionContext) -> dict[str, pd.DataFrame]:
    return {
        d: pd.DataFrame({"day": [d, d], "n": [1, 2], "x": [0.1, 1 / 3]})
        for d in context.partition_keys
    }


@asset(
    key=["master", "daily"],
    partitions_def=DAILY,
    ins={"f": AssetIn(key=["master", "flights"])},
    backfill_policy=BackfillPolicy.multi_run(5),
)
def daily(context: AssetExecutionContext, f):
    if isinstance(f, dict):
        return {d: frame.assign(total=frame["n"].sum()) for d, frame in f.items()}
    return f.assign(total=f["n"].sum())


def resources(lake_url: str) -> dict[str, object]:
    return {"io_manager": LakeIOManager(lake=LakeResource(lake_url=lake_url))}


def range_tags(start: str, end: str) -> dict[str, str]:
    """The run tags a multi-run backfill puts on each batch."""
    return {ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end}


def run(assets: list, lake_url: str, **kwargs: object):
    result = materialize(
        assets,
        resources=resources(lake_url),
        instance=kwargs.pop("instance", None) or DagsterInstance.ephemeral(),
        **kwargs,
    )
    assert result.success
    return result


def test_one_partition_is_published_with_lineage_and_metadata(lake_url: str, lake: Lake) -> None:
    result = run([flights, daily], lake_url, partition_key="2013-01-02")

    assert lake.dates(FLIGHTS) == ["2013-01-02"] and lake.dates(DAILY_DS) == ["2013-01-02"]
    data = lake.store.get(DAILY_DS.data_key("2013-01-02"))
    latest = GrosRef.from_json(lake.store.get(DAILY_DS.latest_key), "latest")
    assert latest.date == "2013-01-02"
    assert latest.sha256 == hashlib.sha256(data).hexdigest() and latest.bytes == len(data)
    assert latest.rows == 2

    record = lake.record(DAILY_DS, "2013-01-02")
    assert record is not None
    assert [(u.repo, u.branch, u.date) for u in record.upstreams] == [
        ("flights", "master", "2013-01-02")
    ]
    flights_data = lake.store.get(FLIGHTS.data_key("2013-01-02"))
    assert record.upstreams[0].sha256 == hashlib.sha256(flights_data).hexdigest()
    assert record.producer["asset_key"] == ["master", "daily"]
    assert record.producer["run_id"] == result.run_id
    assert record.producer["function"].endswith("test_io_manager.daily")
    assert record.producer["versions"]["dagster"]

    audit = lake.downstream_versions(FLIGHTS, "2013-01-02")
    assert [(a.repo, a.date, a.sha256) for a in audit] == [("daily", "2013-01-02", latest.sha256)]

    events = {
        tuple(e.asset_key.path): e.step_materialization_data.materialization
        for e in result.get_asset_materialization_events()
    }
    mat = events[("master", "daily")]
    meta = {k: v.value for k, v in mat.metadata.items()}
    assert meta["gros_uri"] == "gros://daily/master:2013-01-02"
    assert meta["sha256"] == latest.sha256
    assert meta["dagster/row_count"] == 2 and meta["bytes"] == len(data)
    assert [u["date"] for u in meta["upstreams"]] == ["2013-01-02"]
    assert mat.tags["dagster/data_version"] == latest.sha256

    df = lake.read("gros://daily")
    pd.testing.assert_frame_equal(
        df,
        pd.DataFrame({"day": ["2013-01-02"] * 2, "n": [1, 2], "x": [0.1, 1 / 3], "total": [3, 3]}),
    )


def test_a_partition_range_writes_one_object_per_date(lake_url: str, lake: Lake) -> None:
    instance = DagsterInstance.ephemeral()
    result = run(
        [flights, daily],
        lake_url,
        tags=range_tags("2013-01-03", "2013-01-06"),
        instance=instance,
    )
    days = ["2013-01-03", "2013-01-04", "2013-01-05", "2013-01-06"]
    assert lake.dates(FLIGHTS) == days and lake.dates(DAILY_DS) == days
    mats = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key.path == ["master", "daily"]
    ]
    assert sorted(e.partition for e in mats) == days
    for e in mats:
        meta = e.step_materialization_data.materialization.metadata
        ref = GrosRef.from_json(json.dumps(meta["upstreams"].value[0]).encode(), "x")
        assert ref.date == e.partition
        assert meta["gros_uri"].value == f"gros://daily/master:{e.partition}"
    for day in days:
        record = lake.record(DAILY_DS, day)
        assert record is not None and [u.date for u in record.upstreams] == [day]
        assert lake.read(f"gros://daily:{day}")["day"].tolist() == [day, day]
    assert GrosRef.from_json(lake.store.get(DAILY_DS.latest_key), "x").date == "2013-01-06"


def test_a_backfill_of_an_old_date_leaves_latest(lake_url: str, lake: Lake) -> None:
    run([flights], lake_url, partition_key="2013-01-10")
    run([flights], lake_url, partition_key="2013-01-02")
    assert lake.dates(FLIGHTS) == ["2013-01-02", "2013-01-10"]
    assert lake.pick("gros://flights").date == "2013-01-10"


def test_tagged_inputs_read_the_version_their_tag_names(lake_url: str, lake: Lake) -> None:
    for repo in ("ref_a", "ref_b", "ref_c"):
        for day in ["2013-01-01", "2013-01-02", "2013-01-03"]:
            df = pd.DataFrame({"day": [day]})
            lake.publish(df, DatasetId(repo, "master"), day, upstreams=[])
    seen: dict[str, list[str]] = {}

    @asset(
        key=["master", "tagged"],
        partitions_def=DAILY,
        ins={
            "latest": AssetIn(
                key=["master", "ref_a"], metadata={"gros_uri": "gros://ref_a:latest"}
            ),
            "first": AssetIn(
                key=["master", "ref_b"], metadata={"gros_uri": "gros://ref_b/master:0"}
            ),
            "fixed": AssetIn(
                key=["master", "ref_c"], metadata={"gros_uri": "gros://ref_c:2013-01-02"}
            ),
        },
    )
    def tagged(latest: pd.DataFrame, first: pd.DataFrame, fixed: pd.DataFrame) -> pd.DataFrame:
        seen.update(
            latest=latest["day"].tolist(), first=first["day"].tolist(), fixed=fixed["day"].tolist()
        )
        return pd.DataFrame({"ok": [True]})

    specs = [
        AssetSpec(key=["master", r], partitions_def=DAILY) for r in ("ref_a", "ref_b", "ref_c")
    ]
    result = materialize(
        [tagged, *specs],
        resources=resources(lake_url),
        partition_key="2013-01-09",
        selection=[tagged],
    )
    assert result.success
    assert seen == {"latest": ["2013-01-03"], "first": ["2013-01-01"], "fixed": ["2013-01-02"]}
    record = lake.record(DatasetId("tagged", "master"), "2013-01-09")
    assert record is not None
    assert sorted((u.repo, u.date) for u in record.upstreams) == [
        ("ref_a", "2013-01-03"),
        ("ref_b", "2013-01-01"),
        ("ref_c", "2013-01-02"),
    ]
    for repo, day in [("ref_a", "2013-01-03"), ("ref_b", "2013-01-01"), ("ref_c", "2013-01-02")]:
        audit = lake.downstream_versions(DatasetId(repo, "master"), day)
        assert [(a.repo, a.date) for a in audit] == [("tagged", "2013-01-09")]


def test_reads_by_gros_uri_inside_a_run_become_upstreams(
    lake_url: str, lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKE_URL", lake_url)
    lake.publish(
        pd.DataFrame({"code": ["AA", "UA"]}),
        DatasetId("airlines", "master"),
        "2013-01-01",
        upstreams=[],
    )

    @asset(key=["master", "enriched"], partitions_def=DAILY)
    def enriched() -> pd.DataFrame:
        airlines = pd.read_csv("gros://airlines:latest")
        return airlines.assign(n=1)

    run([enriched], lake_url, partition_key="2013-01-05")
    record = lake.record(DatasetId("enriched", "master"), "2013-01-05")
    assert record is not None
    [up] = record.upstreams
    assert (up.repo, up.date) == ("airlines", "2013-01-01")
    assert (
        up.sha256
        == hashlib.sha256(
            lake.store.get(DatasetId("airlines", "master").data_key("2013-01-01"))
        ).hexdigest()
    )
    assert [
        a.repo for a in lake.downstream_versions(DatasetId("airlines", "master"), "2013-01-01")
    ] == ["enriched"]


def test_awkward_values_round_trip_through_the_io_manager(lake_url: str) -> None:
    frame = pd.DataFrame(
        {
            "f": [0.1, 1 / 3, np.nan, 1e300, -0.0],
            "i": pd.array([1, None, 3, -(2**62), 0], dtype="Int64"),
            "s": ["a,b", 'say "hi"', "two\nlines", None, "ünïcödé 😀"],
            "e": ["", "NA", "null", " pad ", "x"],
            "d": [
                dt.date(2013, 1, 1),
                None,
                dt.date(2013, 12, 31),
                dt.date(2000, 2, 29),
                dt.date(1970, 1, 1),
            ],
            "t": pd.to_datetime(
                [
                    "2013-01-01 05:00:00",
                    None,
                    "2013-06-01 23:59:59.999999",
                    "2013-01-01",
                    "1999-12-31 12:00",
                ],
                format="ISO8601",
            ),
            "tz": pd.to_datetime(
                ["2013-01-01 05:00", None, "2013-06-01", "2013-01-02", "2013-01-03"],
                format="ISO8601",
            ).tz_localize("UTC"),
        }
    )
    got: dict[str, pd.DataFrame] = {}

    @asset(key=["master", "awkward"], partitions_def=DAILY)
    def awkward() -> pd.DataFrame:
        return frame

    @asset(
        key=["master", "reader"],
        partitions_def=DAILY,
        ins={"a": AssetIn(key=["master", "awkward"])},
    )
    def reader(a: pd.DataFrame) -> pd.DataFrame:
        got["a"] = a
        return a.head(0)

    run([awkward, reader], lake_url, partition_key="2013-01-01")
    pd.testing.assert_frame_equal(got["a"], frame)


def test_bad_outputs_fail_clearly_and_publish_nothing(lake_url: str, lake: Lake) -> None:
    @asset(key=["flat"], partitions_def=DAILY)
    def flat() -> pd.DataFrame:
        return pd.DataFrame({"a": [1]})

    result = materialize(
        [flat], resources=resources(lake_url), partition_key="2013-01-01", raise_on_error=False
    )
    assert not result.success
    assert "its key must be [branch, repo]" in str(
        result.get_step_failure_events()[0].step_failure_data.error
    )

    @asset(
        key=["master", "ranged"], partitions_def=DAILY, backfill_policy=BackfillPolicy.multi_run(5)
    )
    def ranged() -> pd.DataFrame:
        return pd.DataFrame({"a": [1]})

    result = materialize(
        [ranged],
        resources=resources(lake_url),
        tags=range_tags("2013-01-01", "2013-01-02"),
        raise_on_error=False,
    )
    assert not result.success
    message = str(result.get_step_failure_events()[0].step_failure_data.error)
    assert "must return a {date: DataFrame} dict" in message
    assert lake.dates(DatasetId("ranged", "master")) == []
    assert lake.store.head(DatasetId("ranged", "master").latest_key) is None


def test_a_missing_upstream_partition_names_the_dates_that_exist(lake_url: str, lake: Lake) -> None:
    lake.publish(pd.DataFrame({"n": [1]}), FLIGHTS, "2013-01-01", upstreams=[])
    result = materialize(
        [daily, flights],
        selection=[daily],
        resources=resources(lake_url),
        partition_key="2013-01-09",
        raise_on_error=False,
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data
    message = failure.user_failure_data.description
    assert message.startswith("input 'f': flights/master has no data for 2013-01-09")
    assert "2013-01-01" in message and message.endswith("Nothing was published.")
    assert failure.error.cause is None  # one message, not a chain of load-input tracebacks
    assert lake.dates(DAILY_DS) == []


def test_each_partition_carries_its_sizes_columns_and_first_rows(lake_url: str, lake: Lake) -> None:
    ranged = run([flights], lake_url, tags=range_tags("2013-01-03", "2013-01-04"))
    single = run([flights], lake_url, partition_key="2013-01-09")
    events = [
        *ranged.get_asset_materialization_events(),
        *single.get_asset_materialization_events(),
    ]
    assert sorted(e.partition for e in events) == ["2013-01-03", "2013-01-04", "2013-01-09"]
    for e in events:
        meta = e.step_materialization_data.materialization.metadata
        data = lake.store.get(FLIGHTS.data_key(e.partition))
        assert isinstance(meta["bytes"], IntMetadataValue) and meta["bytes"].value == len(data)
        assert isinstance(meta["dagster/row_count"], IntMetadataValue)
        assert meta["dagster/row_count"].value == 2
        columns = meta["dagster/column_schema"].value.columns
        assert [(c.name, c.type) for c in columns] == [
            ("day", "str"),
            ("n", "int64"),
            ("x", "float64"),
        ]
        preview = meta["preview"].value
        assert preview.startswith("| day | n | x |\n|---|---|---|\n")
        assert f"| {e.partition} | 1 | 0.1 |" in preview and preview.endswith("First 2 of 2 rows.")
    [first, *_] = ranged.get_asset_materialization_events()
    batch = first.step_materialization_data.materialization.metadata["batch"]
    assert batch.value == "2 partitions, 2013-01-03..2013-01-04"

    @asset(key=["master", "wide"], partitions_def=DAILY)
    def wide() -> pd.DataFrame:
        return pd.DataFrame({f"c{i}": range(12) for i in range(40)})

    [mat] = run([wide], lake_url, partition_key="2013-01-01").get_asset_materialization_events()
    meta = mat.step_materialization_data.materialization.metadata
    assert len(meta["dagster/column_schema"].value.columns) == 40
    lines = meta["preview"].value.splitlines()
    assert lines[0] == "| " + " | ".join(f"c{i}" for i in range(30)) + " |"
    assert len([line for line in lines if line.startswith("| 4 |")]) == 1
    assert not [line for line in lines if line.startswith("| 5 |")]
    assert lines[-1] == "First 5 of 12 rows, 10 more columns."


def test_a_pinned_version_is_read_and_a_rematerialization_keeps_history(
    lake_url: str, lake: Lake
) -> None:
    """An input declared `DATE@V` reads that very version after the date is republished; a
    rematerialized partition keeps the version it replaced (spec §6)."""
    pinned_ds = DatasetId("pinned_src", "master")
    first = lake.publish(pd.DataFrame({"v": [1]}), pinned_ds, "2013-01-02", upstreams=[])
    lake.publish(pd.DataFrame({"v": [2]}), pinned_ds, "2013-01-02", overwrite=True)
    uri = f"gros://pinned_src:2013-01-02@{first.sha256[:10]}"

    @asset(
        key=["master", "pinned"],
        partitions_def=DAILY,
        ins={"src": AssetIn(key=["master", "pinned_src"], metadata={"gros_uri": uri})},
    )
    def pinned(context: AssetExecutionContext, src: pd.DataFrame) -> pd.DataFrame:
        return src.assign(run=context.run.run_id[:8])

    spec = AssetSpec(key=["master", "pinned_src"], partitions_def=DAILY)
    for _ in range(2):
        run([pinned, spec], lake_url, partition_key="2013-01-05", selection=[pinned])
    out = DatasetId("pinned", "master")
    versions = lake.history(out, "2013-01-05")
    assert len(versions) == 2 and [v.current for v in versions] == [False, True]
    for v in versions:
        assert v.record is not None
        (up,) = v.record.upstreams
        assert (up.date, up.sha256) == ("2013-01-02", first.sha256)
        assert lake.read(f"gros://pinned:2013-01-05@{v.sha256[:8]}")["v"].tolist() == [1]


def test_a_branch_materialization_records_its_diff_against_the_default_branch(
    lake_url: str, lake: Lake
) -> None:
    master = DatasetId("review", "master")
    lake.publish(
        pd.DataFrame({"id": [1, 2, 3], "city": ["Bern", "Zürich", "Genève"]}),
        master,
        "2013-01-02",
        upstreams=[],
    )

    @asset(key=["feature", "review"], partitions_def=DAILY)
    def review() -> pd.DataFrame:
        return pd.DataFrame(
            {"id": [1, 2, 4, 4], "city": ["Bern", "Zürich", "Basel", "Basel"], "n": [1, 2, 3, 4]}
        )

    instance = DagsterInstance.ephemeral()
    for day in ("2013-01-02", "2013-01-03"):
        run([review], lake_url, partition_key=day, instance=instance)
    by_day = {
        e.asset_materialization.partition: e.asset_materialization.metadata  # type: ignore[union-attr]
        for e in instance.fetch_materializations(AssetKey(["feature", "review"]), limit=10).records
    }
    meta = by_day["2013-01-02"]
    assert meta["branch_diff/base"].value.startswith("gros://review/master:2013-01-02@")
    # Without a key, rows compare as whole rows over the common columns.
    assert meta["branch_diff/rows_added"] == IntMetadataValue(2)
    assert meta["branch_diff/rows_removed"] == IntMetadataValue(1)
    assert meta["branch_diff/schema_change"].value == "+n"
    assert by_day["2013-01-03"]["branch_diff/base"].value == "none: review/master has no 2013-01-03"
    # The base was compared, not read as an input.
    assert lake.record(DatasetId("review", "feature"), "2013-01-02").upstreams == []
