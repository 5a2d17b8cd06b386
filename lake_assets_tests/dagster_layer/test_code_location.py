"""A team's own code location from the public API alone (`lake_assets.dataset`,
`lake_definitions`, `ExternalSource`): its dataset is an asset with its checks and the lake's
IO manager, another team's dataset it reads is an external asset (never a second definition),
and the location's sensor watches it."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
import pytest
from dagster import AssetCheckKey, AssetKey, materialize

import lake_assets
from lake_assets import DatasetContext, ExternalSource, dataset, lake_definitions
from lake_assets.lake import DatasetId, Lake

COUNTS = pa.DataFrameSchema(
    {"carrier": pa.Column(str), "flights": pa.Column(int, pa.Check.ge(0))}, name="CarrierFlights"
)


@dataset(
    repo="team_b_counts",
    layer="gold",
    upstreams={"flights": "gros://flights_silver"},
    schema=COUNTS,
    start_date="2013-01-01",
    owners=["team:b"],
)
def team_b_counts(flights: pd.DataFrame, context: DatasetContext) -> pd.DataFrame:
    """Flights per carrier, as team B counts them."""
    context.count_input(len(flights))
    return flights.groupby("carrier").size().rename("flights").reset_index()


SILVER = ExternalSource("gros://flights_silver", "Team A's cleaned flights.", owners=("team:a",))
KEY = AssetKey(["master", "team_b_counts"])
UPSTREAM = AssetKey(["master", "flights_silver"])


def test_a_team_location_holds_its_dataset_and_refers_to_the_others(lake_env: str) -> None:
    defs = lake_definitions([team_b_counts], external=[SILVER])
    graph = defs.resolve_asset_graph()
    assert graph.get(KEY).is_materializable
    assert not graph.get(UPSTREAM).is_materializable, "team A's dataset is not defined here"
    assert graph.get(UPSTREAM).description == "Team A's cleaned flights."
    assert graph.get(KEY).parent_keys == {UPSTREAM}
    assert AssetCheckKey(KEY, "schema") in graph.asset_check_keys
    assert [s.name for s in defs.sensors] == ["lake_upstream_latest"]
    assert {"io_manager", "lake"} <= set(defs.resources or {})


def test_a_day_team_a_publishes_is_built_by_team_b(lake_env: str, lake: Lake) -> None:
    frame = pd.DataFrame({"carrier": ["UA", "UA", "DL"], "dep_delay": [1.0, 2.0, 3.0]})
    lake_assets.publish(frame, "flights_silver", "master", "2013-01-02")
    defs = lake_definitions([team_b_counts], external=[SILVER])
    assets = list(defs.assets or [])
    result = materialize(
        assets, resources=defs.resources, partition_key="2013-01-02", selection=[KEY]
    )
    assert result.success
    got = lake_assets.read("gros://team_b_counts:2013-01-02")
    assert got.to_dict("list") == {"carrier": ["DL", "UA"], "flights": [1, 2]}
    record = lake.record(DatasetId("team_b_counts", "master"), "2013-01-02")
    assert record is not None and [u.repo for u in record.upstreams] == ["flights_silver"]
    assert record.producer["function"].endswith("team_b_counts")


def test_the_example_pipeline_is_built_the_same_way() -> None:
    from lake_assets.definitions import defs
    from lake_assets.pipeline.datasets import DATASETS

    graph = defs.resolve_asset_graph()
    built = {k.path[-1] for k in graph.materializable_asset_keys}
    assert built == {d.repo for d in DATASETS}
    assert {j.name for j in defs.jobs or []} >= {"lake_pipeline", "log_cleanup"}


def test_a_dataset_function_is_unit_tested_with_the_public_api(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A team's unit test needs only `lake_assets`: its branch, a context from the dataset and
    the day, and the function itself."""
    monkeypatch.setenv("LAKE_BRANCH", "fast-joins")
    branch = lake_assets.deployment_branch()
    assert branch == "fast-joins"
    context = DatasetContext(lake_assets.DatasetId("team_b_counts", branch), "2013-01-02")
    flights = pd.DataFrame({"carrier": ["UA", "UA", "DL"], "flight": [1, 2, 3]})
    got = team_b_counts(flights, context)
    assert got.to_dict("list") == {"carrier": ["DL", "UA"], "flights": [1, 2]}
    assert context.input_rows == 3 and context.refs == {}
    monkeypatch.setenv("LAKE_BRANCH", "no spaces")
    with pytest.raises(lake_assets.lake.LakeError, match=r"LAKE_BRANCH: .*no spaces"):
        lake_assets.deployment_branch()
