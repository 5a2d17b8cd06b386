"""A new source day and a foreign republish through a real deployment: `dagster dev -w
workspace.yaml` (web server and daemon, the lake sensor ticking every `--interval` s) on a temp
local lake and a temp DAGSTER_HOME using the repository's dagster.yaml.

Measured, side by side in one run, `--repeat` times each:

- a new day of the example's sources (flights and weather, published right after a tick ends,
  the worst case for latency): the runs the sensor launches for it (target 1: one run through
  bronze, silver and gold) and the time from the publish to both gold datasets having the day;
- `dagster asset materialize -m lake_assets.definitions --select 'kind:pandas' --partition DAY`
  of another day, on a copy of the lake with an instance of its own (so the sensor does not
  build that day too), as a subprocess wall time; target: new day to gold <= one sensor
  interval + 1.5x that;
- a foreign republish of a past day: an older day's nyc_flights data object rewritten in place
  (fewer rows, `latest` untouched), to both gold datasets rewritten for that day; the bound
  the sensor states is one full sweep pass (ceil(watched / SWEEP_PER_TICK) intervals) plus the
  run, taken here as 1.5x the materialize.

Exits non-zero when a target is missed.

    .venv/bin/python bench/cascade_bench.py [--interval 10] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import io
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from lake_assets_tests.dagster_dev import ROOT, SENSOR, WebServer, dagster_dev

DAGSTER = str(Path(sys.executable).with_name("dagster"))
GOLD = ["carrier_ontime_daily", "origin_weather_delay_daily"]
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")
SEEDED = ("2013-01-01", "2013-01-03")


def home_in(tmp: Path, name: str) -> Path:
    home = tmp / name
    home.mkdir()
    (home / "dagster.yaml").symlink_to(ROOT / "dagster.yaml")
    return home


class Deployment(WebServer):
    def runs(self) -> list[dict]:
        query = """{ runsOrError { ... on Runs { results { runId status creationTime startTime
            endTime tags { key value } assetSelection { path } } } } }"""
        out = []
        for r in self.graphql(query)["runsOrError"]["results"]:
            r["tags"] = {t["key"]: t["value"] for t in r["tags"]}
            r["assets"] = sorted(k["path"][-1] for k in r["assetSelection"] or [])
            out.append(r)
        return out

    def settle(self, timeout: float = 600) -> list[dict]:
        """Every run, once none is unfinished and two ticks started since requested nothing."""
        deadline = time.monotonic() + timeout
        while True:
            runs = self.runs()
            if all(r["status"] in FINISHED for r in runs):
                first = self.tick_ended(time.time(), max(1.0, deadline - time.monotonic()))
                self.tick_ended(first["timestamp"], max(1.0, deadline - time.monotonic()))
                again = self.runs()
                if len(again) == len(runs) and all(r["status"] in FINISHED for r in again):
                    return again
            elif time.monotonic() > deadline:
                raise RuntimeError(f"runs unfinished after {timeout} s")
            else:
                time.sleep(1)


def covers(run: dict, day: str) -> bool:
    tags = run["tags"]
    if "dagster/partition" in tags:
        return tags["dagster/partition"] == day
    start = tags.get("dagster/asset_partition_range_start")
    return start is not None and start <= day <= tags["dagster/asset_partition_range_end"]


def wait_until(what: str, check: Callable[[], bool], timeout: float = 300) -> float:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"not after {timeout} s: {what}")
        time.sleep(0.1)
    return time.time()


def csv_gz(table: str, day: str, drop: int) -> bytes:
    from lake_assets.pipeline import nycflights

    buf = io.BytesIO()
    nycflights.day(table, day).iloc[drop:].to_csv(
        buf, index=False, compression={"method": "gzip", "mtime": 0}
    )
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--interval", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="copy the dagster dev log here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cascade_bench_") as tmp:
        try:
            bench(args, Path(tmp))
        finally:
            if args.keep is not None:
                args.keep.mkdir(parents=True, exist_ok=True)
                for log in Path(tmp).glob("*.log"):
                    shutil.copy(log, args.keep / log.name)


def bench(args: argparse.Namespace, tmp: Path) -> None:
    lake_dir, cli_lake = tmp / "lake", tmp / "cli_lake"
    os.environ["LAKE_URL"] = str(lake_dir)
    os.environ["LAKE_SENSOR_INTERVAL"] = str(args.interval)

    from lake_assets.dagster_layer import sensors
    from lake_assets.dagster_layer.build import resolve
    from lake_assets.lake import DatasetId, Lake
    from lake_assets.pipeline import seed, sources
    from lake_assets.pipeline.datasets import DATASETS, EXTERNAL

    watched = len(resolve(DATASETS, external=EXTERNAL).watched)
    passes = math.ceil(watched / sensors.sweep_per_tick())
    repeat = args.repeat
    # days: SEEDED before start; then per repeat a new day through the sensor and another
    # for the CLI; the republished day is the first seeded
    new_days = [f"2013-01-{4 + 2 * i:02d}" for i in range(repeat)]
    cli_days = [f"2013-01-{5 + 2 * i:02d}" for i in range(repeat)]
    seed.seed(*SEEDED)
    for day in cli_days:  # the CLI's copy of the lake has its own sources
        sources.publish_day(day, lake_url=str(cli_lake))
    sources.publish_references(SEEDED[0], lake_url=str(cli_lake))

    lake = Lake.open(str(lake_dir))
    gold = [DatasetId(g, "master") for g in GOLD]

    def gold_has(day: str) -> bool:
        return all(day in lake.dates(g) for g in gold)

    def gold_created(day: str) -> list[str | None]:
        out = []
        for g in gold:
            record = lake.record(g, day)
            out.append(str(record.gros_ref.created_at) if record else None)
        return out

    env = {**os.environ, "DAGSTER_HOME": str(home_in(tmp, "home"))}
    cli_env = {**os.environ, "LAKE_URL": str(cli_lake), "DAGSTER_HOME": str(home_in(tmp, "cli"))}
    started = time.perf_counter()
    with dagster_dev(env, tmp, "cascade_bench_dagster_dev") as url:
        dep = Deployment(url)
        dep.tick_ended(after=0, timeout=240)
        settled = dep.settle()
        print(
            f"dagster dev up, seeded {SEEDED[0]}..{SEEDED[1]} built by {len(settled)} run(s) in "
            f"{time.perf_counter() - started:.0f}s; {watched} watched upstreams, "
            f"LAKE_SWEEP_PER_TICK {sensors.sweep_per_tick()}: a full sweep pass is {passes} tick(s)"
        )
        if not all(gold_has(d) for d in seed.days(*SEEDED)):
            raise RuntimeError("the seeded days did not reach gold")

        new_rows, cli_s, republish_rows = [], [], []
        for i in range(repeat):
            day = new_days[i]
            before = {r["runId"] for r in dep.runs()}
            dep.tick_ended(after=time.time())
            t0 = time.time()
            sources.publish_day(day)
            t_gold = wait_until(f"gold has {day}", lambda day=day: gold_has(day))
            runs = [r for r in dep.settle() if r["runId"] not in before]
            mine = [r for r in runs if r["tags"].get("dagster/sensor_name") == SENSOR]
            launched = [r for r in mine if covers(r, day)]
            new_rows.append((day, t_gold - t0, len(launched), len(runs), launched, t0))

            cday = cli_days[i]
            command = [
                DAGSTER, "asset", "materialize", "-m", "lake_assets.definitions",
                "--select", "kind:pandas", "--partition", cday,
            ]  # fmt: skip
            c0 = time.perf_counter()
            subprocess.run(command, cwd=ROOT, env=cli_env, check=True, capture_output=True)
            cli_s.append(time.perf_counter() - c0)

            past = seed.days(*SEEDED)[i % 3]
            before = {r["runId"] for r in dep.runs()}
            created = gold_created(past)
            fewer = csv_gz("flights", past, drop=25 + i)
            target = lake_dir / DatasetId("nyc_flights", "master").data_key(past)
            pointer = lake.latest_pointer(DatasetId("nyc_flights", "master"))
            t0 = time.time()
            partial = target.with_name(target.name + ".foreign")
            partial.write_bytes(fewer)
            os.replace(partial, target)  # another team's job, no lake code
            t_gold = wait_until(
                f"gold rewritten for {past}",
                lambda past=past, created=created: all(
                    a != b for a, b in zip(gold_created(past), created, strict=True)
                ),
            )
            runs = [r for r in dep.settle() if r["runId"] not in before]
            mine = [r for r in runs if r["tags"].get("dagster/sensor_name") == SENSOR]
            unmoved = lake.latest_pointer(DatasetId("nyc_flights", "master")) == pointer
            republish_rows.append((past, t_gold - t0, len(mine), len(runs), mine, t0, unmoved))

        ticks = dep.ticks(limit=200)

    materialize = statistics.median(cli_s)
    new_bound = args.interval + 1.5 * materialize
    republish_bound = passes * args.interval + 1.5 * materialize
    print(f"\nsensor interval {args.interval}s; materialize (CLI, other day) {_span(cli_s)}s")
    print(f"{'':34} {'median':>8} {'range':>13} {'bound':>7} {'ratio':>6}  runs by the sensor")
    new_s = [r[1] for r in new_rows]
    rep_s = [r[1] for r in republish_rows]
    print(
        f"{'new day -> gold':34} {statistics.median(new_s):>7.1f}s {_span(new_s):>13} "
        f"{new_bound:>6.1f}s {statistics.median(new_s) / new_bound:>6.2f}  "
        f"{[r[2] for r in new_rows]} (all new runs: {[r[3] for r in new_rows]})"
    )
    print(
        f"{'past day republished -> gold':34} {statistics.median(rep_s):>7.1f}s "
        f"{_span(rep_s):>13} {republish_bound:>6.1f}s "
        f"{statistics.median(rep_s) / republish_bound:>6.2f}  "
        f"{[r[2] for r in republish_rows]} (all new runs: {[r[3] for r in republish_rows]})"
    )
    print(
        f"{'materialize, CLI':34} {materialize:>7.1f}s {_span(cli_s):>13}   new day / "
        f"materialize {statistics.median(new_s) / materialize:.2f}x, republish / materialize "
        f"{statistics.median(rep_s) / materialize:.2f}x"
    )
    for day, secs, _, _, launched, t0, *_ in [*new_rows, *republish_rows]:
        for r in launched:
            print(
                f"  {day}: gold after {secs:.1f}s; run {r['runId'][:8]} {r['status']}, "
                f"{len(r['assets'])} assets, created +{r['creationTime'] - t0:.1f}s, started "
                f"+{(r['startTime'] or 0) - t0:.1f}s, ended +{(r['endTime'] or 0) - t0:.1f}s; "
                f"{r['tags'].get('lake/triggered_by')}"
            )
    warnings = [
        e["message"]
        for t in ticks
        for e in (t.get("logEvents") or {}).get("events", [])
        if e["level"] != "INFO"
    ]
    failed = [t for t in ticks if t["status"] == "FAILURE"]
    print(f"ticks seen {len(ticks)}, failed {len(failed)}, warnings {len(warnings)}")
    for w in sorted(set(warnings))[:10]:
        print(f"  warning: {w}")

    checks = [
        ("one run per new source day", all(r[2] == 1 and r[3] == 1 for r in new_rows)),
        ("new day -> gold <= interval + 1.5x materialize", statistics.median(new_s) <= new_bound),
        (
            "republish -> gold <= full sweep pass + 1.5x materialize",
            statistics.median(rep_s) <= republish_bound,
        ),
        ("one run per republished day", all(r[2] == 1 and r[3] == 1 for r in republish_rows)),
        ("the republish left `latest` where it was", all(r[6] for r in republish_rows)),
        ("no failed tick", not failed),
    ]
    print()
    for name, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    if not all(ok for _, ok in checks):
        raise SystemExit(1)


def _span(values: list[float]) -> str:
    return f"{min(values):.1f}-{max(values):.1f}"


if __name__ == "__main__":
    main()
