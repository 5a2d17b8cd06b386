"""The `latest` sensor through real ticks (`build_sensor_context`) on a local lake and S3."""

import json

import pandas as pd
import pytest
from dagster import (
    AssetIn,
    AssetSpec,
    DagsterInstance,
    DailyPartitionsDefinition,
    SensorResult,
    asset,
    build_sensor_context,
)

from lake_assets.dagster_layer import sensors
from lake_assets.dagster_layer.resources import LakeResource
from lake_assets.dagster_layer.sensors import TRIGGER_TAG, build_upstream_sensor
from lake_assets.lake import DatasetId, GrosRef, Lake, StoreUnavailable

DAILY = DailyPartitionsDefinition(start_date="2013-01-01")
WEATHER = DatasetId("weather", "master")
FLIGHTS = DatasetId("flights", "master")
AIRLINES = DatasetId("airlines", "master")

weather = AssetSpec(key=["master", "weather"], partitions_def=DAILY)
airlines = AssetSpec(key=["master", "airlines"], partitions_def=DAILY)


@asset(key=["master", "flights"], partitions_def=DAILY)
def flights() -> pd.DataFrame:
    return pd.DataFrame({"n": [1]})


@asset(
    key=["master", "joined"],
    partitions_def=DAILY,
    metadata={"lake/heavy": True},
    ins={
        "f": AssetIn(key=["master", "flights"], metadata={"gros_uri": "gros://flights"}),
        "w": AssetIn(key=["master", "weather"], metadata={"gros_uri": "gros://weather"}),
        "a": AssetIn(key=["master", "airlines"], metadata={"gros_uri": "gros://airlines:latest"}),
    },
)
def joined(f: pd.DataFrame, w: pd.DataFrame, a: pd.DataFrame) -> pd.DataFrame:
    return f


@asset(
    key=["master", "by_airline"],
    partitions_def=DAILY,
    ins={"a": AssetIn(key=["master", "airlines"], metadata={"gros_uri": "gros://airlines"})},
)
def by_airline(a: pd.DataFrame) -> pd.DataFrame:
    return a


ASSETS = [weather, airlines, flights, joined, by_airline]
SENSOR = build_upstream_sensor(ASSETS)


class Ticker:
    """Runs ticks the way the daemon does: each tick starts from the last tick's cursor."""

    def __init__(self, lake_url: str) -> None:
        self.instance = DagsterInstance.ephemeral()
        self.lake_url = lake_url
        self.cursor: str | None = None

    def tick(self, lake_url: str | None = None) -> SensorResult:
        context = build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            resources={"lake": LakeResource(lake_url=lake_url or self.lake_url)},
        )
        result = SENSOR(context)
        assert isinstance(result, SensorResult)
        self.cursor = result.cursor
        return result


def publish(
    lake: Lake, ds: DatasetId, date: str, value: int = 1, *, overwrite: bool = False
) -> None:
    lake.publish(pd.DataFrame({"v": [value]}), ds, date, upstreams=[], overwrite=overwrite)


def requested(result: SensorResult) -> list[tuple[str, str | None]]:
    return sorted(
        ("/".join(r.asset_selection[0].path), r.partition_key) for r in result.run_requests or []
    )


def test_a_partition_runs_once_every_no_tag_upstream_has_it(lake_url: str, lake: Lake) -> None:
    t = Ticker(lake_url)
    assert requested(t.tick()) == []

    publish(lake, FLIGHTS, "2013-01-02")
    result = t.tick()
    assert requested(result) == []  # weather has no 2013-01-02 yet
    publish(lake, AIRLINES, "2013-01-02")
    # `joined` reads airlines with :latest, which never triggers; `by_airline` reads it untagged
    result = t.tick()
    assert requested(result) == [("master/by_airline", "2013-01-02")]
    assert "dagster-k8s/config" not in result.run_requests[0].tags  # not heavy: default size

    publish(lake, WEATHER, "2013-01-02")
    result = t.tick()
    assert requested(result) == [("master/joined", "2013-01-02")]
    [request] = result.run_requests
    sizing = json.loads(request.tags["dagster-k8s/config"])  # joined is declared heavy
    assert sizing["container_config"]["resources"]["requests"]["memory"] == "8Gi"
    assert "flights/master:2013-01-02@" in request.tags[TRIGGER_TAG]
    assert "weather/master:2013-01-02@" in request.tags[TRIGGER_TAG]

    assert requested(t.tick()) == []  # nothing changed: nothing requested


def test_a_republish_with_other_content_runs_again_and_same_content_has_the_same_key(
    lake_url: str, lake: Lake
) -> None:
    t = Ticker(lake_url)
    t.tick()
    publish(lake, FLIGHTS, "2013-01-02")
    publish(lake, WEATHER, "2013-01-02")
    first = t.tick().run_requests[0]

    publish(lake, WEATHER, "2013-01-02", value=2, overwrite=True)
    second = t.tick().run_requests[0]
    assert second.partition_key == "2013-01-02" and second.run_key != first.run_key

    publish(lake, WEATHER, "2013-01-02", value=1, overwrite=True)  # the first run's content
    third = t.tick().run_requests[0]
    assert third.run_key == first.run_key  # so Dagster will not run it twice


def test_several_dates_published_between_ticks_all_run(lake_url: str, lake: Lake) -> None:
    t = Ticker(lake_url)
    publish(lake, FLIGHTS, "2013-01-01")
    publish(lake, WEATHER, "2013-01-01")
    assert requested(t.tick()) == [("master/joined", "2013-01-01")]
    for day in ("2013-01-02", "2013-01-03", "2013-01-04"):
        publish(lake, WEATHER, day)
        publish(lake, FLIGHTS, day)
    assert requested(t.tick()) == [
        ("master/joined", "2013-01-02"),
        ("master/joined", "2013-01-03"),
        ("master/joined", "2013-01-04"),
    ]


def test_external_upstreams_are_reported_as_materializations(lake_url: str, lake: Lake) -> None:
    t = Ticker(lake_url)
    publish(lake, WEATHER, "2013-01-05")
    result = t.tick()
    events = [(e.asset_key.path, e.partition) for e in result.asset_events]
    assert events == [(["master", "weather"], "2013-01-05")]
    meta = result.asset_events[0].metadata
    assert meta["gros_uri"].value == "gros://weather/master:2013-01-05"
    assert len(meta["sha256"].value) == 64
    publish(lake, FLIGHTS, "2013-01-05")  # built here: its own runs report it, not the sensor
    assert t.tick().asset_events == []


def test_registrations_name_each_downstream_with_its_tag(lake_url: str, lake: Lake) -> None:
    Ticker(lake_url).tick()
    regs = {}
    for up in (FLIGHTS, WEATHER, AIRLINES):
        raw = json.loads(lake.store.get(up.registration_key(DatasetId("joined", "master"))))
        regs[str(up)] = raw["tag"]
        assert (raw["repo"], raw["branch"]) == ("joined", "master")
    assert regs == {"flights/master": None, "weather/master": None, "airlines/master": "latest"}


def test_a_malformed_latest_is_skipped_and_the_others_still_trigger(
    lake_url: str, lake: Lake, capsys: pytest.CaptureFixture[str]
) -> None:
    t = Ticker(lake_url)
    t.tick()
    publish(lake, FLIGHTS, "2013-01-02")
    publish(lake, WEATHER, "2013-01-02")
    lake.store.put(AIRLINES.latest_key, b"{not json")
    result = t.tick()
    assert requested(result) == [("master/joined", "2013-01-02")]
    warning = capsys.readouterr().err
    assert "WARNING - skipped asset/airlines/master/metadata/latest" in warning
    assert "is not a valid GrosRef" in warning

    # a latest pointing at a data object that does not exist: reported, skipped, and
    # picked up once the object is there
    lake.store.put(
        AIRLINES.latest_key, GrosRef(repo="airlines", branch="master", date="2013-01-04").to_json()
    )
    assert requested(t.tick()) == []
    assert "points at 2013-01-04 but asset/airlines/master/data/2013-01-04.csv.gz is missing" in (
        capsys.readouterr().err
    )
    publish(lake, AIRLINES, "2013-01-04")
    assert requested(t.tick()) == [("master/by_airline", "2013-01-04")]


def test_an_unreachable_s3_endpoint_fails_the_tick_and_loses_no_trigger(
    s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake_url = f"s3://{s3_bucket}/lake"
    lake = Lake.open(lake_url)
    t = Ticker(lake_url)
    t.tick()
    publish(lake, FLIGHTS, "2013-01-02")
    publish(lake, WEATHER, "2013-01-02")
    before = t.cursor
    with monkeypatch.context() as m:
        m.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
        with pytest.raises(
            StoreUnavailable, match=r"cannot reach the S3 endpoint http://127.0.0.1:9"
        ):
            t.tick()
    assert t.cursor == before
    assert requested(t.tick()) == [("master/joined", "2013-01-02")]


def test_a_burst_is_spread_over_ticks_and_nothing_is_lost(
    lake_url: str, lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sensors, "MAX_CHANGES", 1)
    monkeypatch.setattr(sensors, "MAX_REGISTRATIONS", 2)
    t = Ticker(lake_url)
    t.tick()
    for ds in (AIRLINES, FLIGHTS, WEATHER):
        publish(lake, ds, "2013-01-02")
    ticks = [t.tick() for _ in range(4)]
    assert [requested(r) for r in ticks] == [
        [("master/by_airline", "2013-01-02")],  # airlines: the first change, in name order
        [("master/joined", "2013-01-02")],  # flights: weather already has the day
        [("master/joined", "2013-01-02")],  # weather: the same versions...
        [],
    ]
    assert ticks[1].run_requests[0].run_key == ticks[2].run_requests[0].run_key  # ...one run
    joined_regs = [
        lake.store.head(up.registration_key(DatasetId("joined", "master")))
        for up in (FLIGHTS, WEATHER, AIRLINES)
    ]
    assert all(joined_regs)  # 4 edges, 2 per tick: all written by the second tick
