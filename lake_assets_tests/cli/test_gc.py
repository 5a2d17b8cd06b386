"""`lake gc`: a dry run unless --apply, a table or --json, --live-branches, --branch, and
bad options as one-line errors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd

from lake_assets.lake import DatasetId, GrosRef, Lake
from lake_assets_tests.cli.conftest import RawLake

M = DatasetId("shop", "master")
F = DatasetId("shop", "feature/x")
R = DatasetId("report", "master")
DAY = "2024-01-02"


def versions(lake: Lake, raw: RawLake, ds: DatasetId, n: int, days_old: float) -> list[GrosRef]:
    """`n` versions of DAY, the superseded ones recorded as made `days_old` days ago."""
    refs = [
        lake.publish(pd.DataFrame({"x": [i, i]}), ds, DAY, upstreams=[], overwrite=True)
        for i in range(n)
    ]
    for ref in refs[:-1]:
        key = ds.version_record_key(DAY, ref.sha256)
        doc = json.loads(raw.get(key))
        when = dt.datetime.now(dt.UTC) - dt.timedelta(days=days_old)
        doc["gros_ref"]["created_at"] = when.isoformat()
        raw.put_json(key, doc)
    return refs


def test_dry_run_then_apply(cli, lake: Lake, raw: RawLake) -> None:
    old = versions(lake, raw, M, 3, days_old=40)
    before = raw.all_keys()
    dry = cli("gc").ok().out
    assert "shop/master" in dry and "30 d" in dry
    assert "dry run: would free 4 objects" in dry and "pass --apply" in dry
    assert raw.all_keys() == before
    assert "would free 0 objects" in cli("gc", "--keep-days", "45").ok().out

    doc = cli("gc", "--json").ok().json()
    assert doc["applied"] is False and doc["log"] is None and doc["objects"] == 4
    (shop,) = doc["datasets"]
    assert {v["sha256"] for v in shop["versions"]} == {r.sha256 for r in old[:2]}
    assert doc["bytes"] == sum(len(raw.get(k)) for v in shop["versions"] for k in v["keys"])

    applied = cli("gc", "--apply").ok().out
    assert "freed 4 objects" in applied and "log: gc/" in applied
    (log,) = [k for k in raw.all_keys() if k.startswith("gc/")]
    assert log in applied
    removed = {r["key"] for r in json.loads(raw.get(log))["removed"]}
    assert removed == set(before) - set(raw.all_keys())
    assert len(removed) == 4
    assert "freed 0 objects" in cli("gc", "--apply").ok().out
    assert cli("gc", "--apply", "--json").ok().json()["log"] is None


def test_live_branches_and_overrides(cli, lake: Lake, raw: RawLake, tmp_path: Path) -> None:
    versions(lake, raw, M, 2, days_old=40)
    feature = versions(lake, raw, F, 2, days_old=40)
    lake.publish(pd.DataFrame({"y": [1]}), R, DAY, upstreams=[feature[0]])
    # feature branches keep 100 days, everything else the default 30: only master's goes
    doc = cli("gc", "--branch", "feature/*=100", "--branch", "*=1", "--json").ok().json()
    assert [d["dataset"] for d in doc["datasets"]] == ["shop/master"]
    assert doc["datasets"][0]["keep_days"] == 1

    branches = tmp_path / "branches.txt"
    branches.write_text("  origin/HEAD -> origin/master\n  origin/master\n\n")
    dry = cli("gc", "shop", "--live-branches", str(branches)).ok().out
    assert "shop/feature/x" in dry and "dead" in dry
    assert f"gros://{F}:{DAY}@{feature[0].sha256[:12]} (by gros://{R}:{DAY})" in dry
    cli("gc", "shop", "--live-branches", str(branches), "--apply").ok()
    left = {k for k in raw.all_keys() if "feature%2Fx" in k}
    assert left == {
        F.version_key(DAY, feature[0].sha256),
        F.version_record_key(DAY, feature[0].sha256),
    }
    # verify passes: every record still resolves, what gc kept included
    cli("verify").ok()
    # forced, the referenced version goes too, and verify says the record names nothing
    forced = cli("gc", "shop", "--live-branches", str(branches), "--force", "--apply").ok()
    assert "freed 2 objects" in forced.out
    assert not [k for k in raw.all_keys() if "feature%2Fx" in k]
    run = cli("verify", "--json")
    assert run.code == 1
    codes = {(p["key"], p["code"]) for p in run.json()["problems"]}
    assert (R.record_key(DAY), "record-upstream-missing") in codes


def test_bad_options_are_one_line_errors(cli, lake: Lake, raw: RawLake, tmp_path: Path) -> None:
    versions(lake, raw, M, 2, days_old=40)
    lake.publish(pd.DataFrame({"y": [1]}), R, DAY, upstreams=[])
    cli("gc", "--keep-days", "soon").error("invalid --keep-days 'soon'", "number of days")
    cli("gc", "--keep-days", "-3").error("invalid --keep-days '-3'")
    cli("gc", "--branch", "feature/*").error("invalid --branch 'feature/*'", "PATTERN=DAYS")
    cli("gc", "--branch", "feature/*=x").error("invalid --branch 'feature/*=x'")
    missing = tmp_path / "nope.txt"
    cli("gc", "--live-branches", str(missing)).error("cannot read --live-branches", str(missing))
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    cli("gc", "shop", "--live-branches", str(empty)).error("lists no branch")
    bad = tmp_path / "bad.txt"
    bad.write_text("master\nfeature..x\n")
    cli("gc", "shop", "--live-branches", str(bad)).error("line 2", "invalid branch 'feature..x'")
    ok = tmp_path / "ok.txt"
    ok.write_text("master\n")
    cli("gc", "--live-branches", str(ok)).error("2 repos", "lake gc REPO --live-branches FILE")
    cli("gc", "shopp").error("repo 'shopp' has no datasets", "did you mean shop?")
    cli("gc", "shop/bad..branch").error("invalid branch")
    assert len(raw.all_keys()) > 0 and not [k for k in raw.all_keys() if k.startswith("gc/")]
