"""The Dagster UI in headless Chromium (Debian's, never downloaded), asserted on what a person
sees: the global lineage labels every node with its dataset's name, all distinct; the bronze,
silver and gold groups and the external sources with their edges; 365 partitions of 2013 per
asset; a silver partition materialized from the partition dialog lands in the embedded default
lake, shows as materialized, and its check evaluations name their partition. Screenshots are
kept in test-artifacts/."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lake_assets_tests.dagster_dev import ARTIFACTS, ROOT, dagster_dev, dagster_home

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
DAY = "2013-01-02"
NODES = (
    "nyc_flights",
    "nyc_weather",
    "airlines",
    "airports",
    "flights_bronze",
    "weather_bronze",
    "flights_silver",
    "weather_silver",
    "silver_quarantine",
    "carrier_ontime_daily",
    "origin_weather_delay_daily",
)
pytestmark = [pytest.mark.browser, pytest.mark.daemon]


def shows(label: str, name: str) -> bool:
    """Whether a node label is `name`, whole or cut in the middle with an ellipsis."""
    head, cut, tail = label.partition("…")
    return label == name or bool(cut and name.startswith(head) and name.endswith(tail))


def sync_playwright() -> Any:
    """Fail, not skip: a missing browser is a broken setup, not an optional feature."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `apt-get install -y chromium` (Debian's build)")
    try:
        from playwright.sync_api import sync_playwright as start
    except ImportError:
        pytest.fail("the playwright package is missing: `uv pip install -p .venv playwright`")
    return start()


@pytest.fixture
def webserver(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`dagster dev` on a fresh instance and the embedded default lake (LAKE_URL unset, the
    data home moved to a temp dir), with the sources seeded as `./dev up` does."""
    env = {k: v for k, v in os.environ.items() if k not in ("LAKE_URL", "LAKE_BRANCH")}
    env.update(DAGSTER_HOME=str(dagster_home(tmp_path)), XDG_DATA_HOME=str(tmp_path / "data"))
    lake_dir = tmp_path / "data" / "lake_assets" / "lake"
    subprocess.run(
        [sys.executable, "-m", "lake_assets.pipeline.seed", "--if-empty"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    with dagster_dev(env, tmp_path, "ui_dagster_dev") as url:
        yield url, lake_dir


def graphql(page: Any, url: str, query: str) -> dict[str, Any]:
    response = page.request.post(f"{url}/graphql", data={"query": query})
    assert response.ok, response.text()
    return response.json()["data"]


def materialize_partition(page: Any, url: str, asset: str, shot: str) -> None:
    """Asset page -> Materialize… -> (confirm missing upstreams) -> partition dialog."""
    page.goto(f"{url}/assets/{asset}", wait_until="networkidle")
    page.get_by_role("button", name="Materialize…").click()
    confirm = page.get_by_role("button", name="Confirm")
    dialog = page.get_by_role("dialog")
    partitions = dialog.get_by_text("Partition selection")
    partitions.or_(confirm).first.wait_for()
    if confirm.is_visible():  # "upstream assets have not been materialized yet"
        confirm.click()
    partitions.wait_for()
    show_all = dialog.get_by_role("button", name="Show all partitions")
    all_time = dialog.get_by_text("All time")
    show_all.or_(all_time).first.wait_for()
    if show_all.is_visible():  # 2013 is older than the dialog's default window
        show_all.click()
        all_time.wait_for()
    box = dialog.locator("input[type=text]").first
    box.fill(DAY)
    box.press("Enter")
    launch = dialog.get_by_role("button", name="Launch 1 run")
    try:
        launch.wait_for()
    except Exception:
        page.screenshot(path=str(ARTIFACTS / f"failed_{shot}"))
        raise
    assert "maximum of 31 partitions per run" in dialog.inner_text()
    page.screenshot(path=str(ARTIFACTS / shot))
    launch.click()
    dialog.wait_for(state="detached")


def wait_for_runs(page: Any, url: str, count: int) -> list[dict[str, Any]]:
    """The runs launched from the UI, once finished. The lake sensor's runs are left out (it
    builds every seeded day, and rebuilds what lies below a day the UI rebuilt)."""
    query = "{ runsOrError { ... on Runs { results { runId status tags { key value } } } } }"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        runs = [
            r
            for r in graphql(page, url, query)["runsOrError"]["results"]
            if not any(t["key"] == "dagster/sensor_name" for t in r["tags"])
        ]
        done = [r for r in runs if r["status"] in ("SUCCESS", "FAILURE", "CANCELED")]
        if len(runs) >= count and len(done) == len(runs):
            return runs
        time.sleep(2)
    pytest.fail(f"runs did not finish: {runs}")


def test_asset_graph_and_materialize_a_silver_partition(webserver: tuple[str, Path]) -> None:
    url, lake_dir = webserver
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(60_000)

        page.goto(f"{url}/asset-groups", wait_until="networkidle")
        page.get_by_text("Global asset lineage").wait_for()
        graph = page.locator("svg").filter(has=page.locator("path")).first
        graph.wait_for()
        for group in ("sources", "bronze", "silver", "gold"):
            page.locator("foreignObject").filter(has_text=group).first.dblclick()  # expand
        page.get_by_text("flights_silver", exact=True).wait_for()
        page.wait_for_timeout(1000)
        page.screenshot(path=str(ARTIFACTS / "ui_asset_graph.png"))
        labels = [
            text.strip()
            for text in page.locator("foreignObject").all_text_contents()
            if text.strip() and text.strip() not in ("bronze", "silver", "gold", "sources")
        ]
        assert len(labels) == len(set(labels)) == len(NODES), labels
        for repo in NODES:  # the graph cuts a long name in the middle: carrier_ont…_daily
            assert any(shows(label, repo) for label in labels), (repo, labels)
        nodes = graphql(
            page,
            url,
            "{ assetNodes { assetKey { path } groupName isMaterializable "
            "dependencyKeys { path } } }",
        )["assetNodes"]
        by_key = {"/".join(n["assetKey"]["path"]): n for n in nodes}
        assert {n["groupName"] for n in nodes} == {"bronze", "silver", "gold", "sources"}
        sources = {k for k, n in by_key.items() if n["groupName"] == "sources"}
        assert sources == {
            "master/nyc_flights",
            "master/nyc_weather",
            "master/airlines",
            "master/airports",
        }
        assert not any(by_key[k]["isMaterializable"] for k in sources)

        def deps(key: str) -> set[str]:
            return {"/".join(d["path"]) for d in by_key[key]["dependencyKeys"]}

        assert deps("master/flights_bronze") == {"master/nyc_flights"}
        assert deps("master/flights_silver") == {
            "master/flights_bronze",
            "master/airlines",
            "master/airports",
        }
        assert deps("master/origin_weather_delay_daily") == {
            "master/flights_silver",
            "master/weather_silver",
        }

        materialize_partition(page, url, "master/weather_bronze", "ui_launch_bronze.png")
        wait_for_runs(page, url, 1)
        materialize_partition(page, url, "master/weather_silver", "ui_launch_silver.png")
        runs = wait_for_runs(page, url, 2)
        assert [r["status"] for r in runs] == ["SUCCESS", "SUCCESS"], runs
        for run in runs:
            tags = {t["key"]: t["value"] for t in run["tags"]}
            assert tags.get("dagster/partition") == DAY

        page.goto(f"{url}/assets/master/weather_silver?view=partitions", wait_until="networkidle")
        page.get_by_text("365 Partitions Selected").wait_for()  # 2013, not 2013 to today
        materialized = page.get_by_text(re.compile(r"^Materialized \((\d+)\)$"))
        materialized.wait_for()
        assert int(materialized.inner_text().split("(")[1].rstrip(")")) >= 1
        page.screenshot(path=str(ARTIFACTS / "ui_silver_partitions.png"))
        page.goto(
            f"{url}/assets/master/weather_silver?view=partitions&partition={DAY}",
            wait_until="networkidle",
        )
        page.get_by_text(f"gros://weather_silver/master:{DAY}").first.wait_for()  # its metadata
        page.wait_for_timeout(1000)
        page.screenshot(path=str(ARTIFACTS / "ui_silver_partition_day.png"))

        page.get_by_text("Materialized", exact=True).first.wait_for()  # the day's badge
        page.goto(f"{url}/assets/master/weather_silver?view=checks", wait_until="networkidle")
        page.wait_for_timeout(1500)
        page.screenshot(path=str(ARTIFACTS / "ui_silver_checks_list.png"))
        page.get_by_text("quarantine_budget", exact=True).first.click()
        page.get_by_text("Execution history", exact=True).click()
        page.wait_for_timeout(1500)
        page.screenshot(path=str(ARTIFACTS / "ui_silver_checks.png"))
        page.get_by_text(DAY, exact=True).first.wait_for()  # the evaluation's partition
        page.wait_for_timeout(1000)
        page.screenshot(path=str(ARTIFACTS / "ui_silver_checks.png"))
        browser.close()
    data = lake_dir / "asset" / "weather_silver" / "master" / "data" / f"{DAY}.csv.gz"
    assert data.is_file(), f"{data} was not written"
    latest = lake_dir / "asset" / "weather_silver" / "master" / "metadata" / "latest"
    # the sensor may have published a later day meanwhile: latest only moves forward
    assert json.loads(latest.read_text())["date"] >= DAY
