"""Retention (GROS_SPEC §6): `retention.plan` and `retention.apply` on a local directory and
on moto's S3 server."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from lake_assets.lake import DatasetId, Lake, retention
from lake_assets.lake.catalog import Selection
from lake_assets.lake.contract.errors import LakeError
from lake_assets.lake.contract.refs import GrosRef
from lake_assets_tests.raw_lake import RawLake

A = DatasetId("flights", "master")
B = DatasetId("report", "master")
F = DatasetId("flights", "feature/x")
DAY = "2024-01-02"
NOW = dt.datetime.now(dt.UTC)


def frame(i: int) -> pd.DataFrame:
    return pd.DataFrame({"id": [i, i + 1], "name": [f"v{i}", "é, ü"]})


def publish_versions(lake: Lake, ds: DatasetId, n: int, date: str = DAY) -> list[GrosRef]:
    return [lake.publish(frame(i), ds, date, upstreams=[], overwrite=True) for i in range(n)]


def age(raw: RawLake, ds: DatasetId, ref: GrosRef, days: float) -> None:
    """Make a kept version's record say it was created `days` ago."""
    key = ds.version_record_key(ref.date, ref.sha256)
    doc = json.loads(raw.get(key))
    doc["gros_ref"]["created_at"] = (NOW - dt.timedelta(days=days)).isoformat()
    raw.put_json(key, doc)


def sha256s(plan: retention.GcPlan) -> set[str | None]:
    return {v.sha256 for d in plan.datasets for v in d.versions}


def test_superseded_versions_older_than_the_retention_go(lake: Lake, raw: RawLake):
    refs = publish_versions(lake, A, 4)  # three superseded, one current
    age(raw, A, refs[0], 40)
    age(raw, A, refs[1], 20)
    policy = retention.Policy(keep_days=30)
    plan = retention.plan(lake, policy)
    assert sha256s(plan) == {refs[0].sha256}
    assert plan.objects == 2  # the versions/ object and its record
    keys = {A.version_key(DAY, refs[0].sha256), A.version_record_key(DAY, refs[0].sha256)}
    assert set(plan.keys()) == keys
    assert plan.bytes == sum(len(raw.get(k)) for k in keys)
    # a branch override, first match wins; `now` moves the clock
    later = retention.Policy(keep_days=30, branch_days=(("mast*", 10), ("*", 100)))
    assert sha256s(retention.plan(lake, later)) == {refs[0].sha256, refs[1].sha256}
    assert sha256s(retention.plan(lake, policy, NOW + dt.timedelta(days=31))) == {
        r.sha256 for r in refs[:3]
    }
    # the current version never goes
    assert refs[3].sha256 not in sha256s(retention.plan(lake, retention.Policy(keep_days=0)))


def test_dry_run_changes_nothing_and_apply_removes_and_logs(lake: Lake, raw: RawLake):
    refs = publish_versions(lake, A, 3)
    before = raw.all_keys()
    plan = retention.plan(lake, retention.Policy(keep_days=30), NOW + dt.timedelta(days=60))
    assert plan.objects == 4
    assert raw.all_keys() == before  # planning is read-only
    log = retention.apply(lake, plan)
    assert log["complete"] is True and log["key"].startswith("gc/")
    after = raw.all_keys()
    assert set(before) - set(after) == set(plan.keys())
    assert set(after) - set(before) == {log["key"]}
    stored = json.loads(raw.get(log["key"]))
    assert stored["complete"] is True
    assert {r["key"] for r in stored["removed"]} == set(plan.keys())
    assert stored["objects"] == 4 and stored["bytes"] == plan.bytes
    # the current version reads on; the history holds it alone
    assert [v.sha256 for v in lake.history(A, DAY)] == [refs[-1].sha256]
    pd.testing.assert_frame_equal(lake.read(f"gros://flights:{DAY}"), frame(2))
    if not raw.s3:  # local: no empty directory left behind
        assert not (raw.root / A.versions_prefix(DAY)).exists()
    # a rerun frees nothing and writes no log
    again = retention.plan(lake, retention.Policy(keep_days=30), NOW + dt.timedelta(days=60))
    assert again.objects == 0
    assert retention.apply(lake, again)["key"] is None
    assert raw.all_keys() == after


def test_a_version_a_kept_version_reads_is_kept_unless_forced(lake: Lake, raw: RawLake):
    refs = publish_versions(lake, A, 3)
    b0 = lake.publish(frame(9), B, DAY, upstreams=[refs[0]])  # report read the first version
    later = NOW + dt.timedelta(days=60)
    plan = retention.plan(lake, retention.Policy(), later)
    assert sha256s(plan) == {refs[1].sha256}
    (flights,) = [d for d in plan.datasets if d.dataset == A]
    (kept,) = flights.kept
    assert kept.uri == f"gros://{A}:{DAY}@{refs[0].sha256[:12]}"
    assert kept.referenced_by == (f"gros://{B}:{DAY}",)
    # report is republished twice: b0 and r1 are superseded. summary's current version read
    # r1, which keeps r1, and r1 read refs[1], which keeps refs[1]; b0, named by no kept
    # version, goes, and refs[0] with it
    r1 = lake.publish(frame(8), B, DAY, upstreams=[refs[1]], overwrite=True)
    lake.publish(frame(7), DatasetId("summary", "master"), DAY, upstreams=[r1])
    lake.publish(frame(6), B, DAY, upstreams=[], overwrite=True)
    chained = retention.plan(lake, retention.Policy(), later)
    assert sha256s(chained) == {refs[0].sha256, b0.sha256}
    forced = retention.plan(lake, retention.Policy(force=True), later)
    assert sha256s(forced) == {refs[0].sha256, refs[1].sha256, b0.sha256, r1.sha256}
    assert all(not d.kept for d in forced.datasets)
    retention.apply(lake, forced)
    assert [v.sha256 for v in lake.history(A, DAY)] == [refs[2].sha256]
    assert len(lake.history(B, DAY)) == 1


def test_a_version_named_by_a_record_outside_the_selection_is_kept(lake: Lake):
    refs = publish_versions(lake, A, 2)
    lake.publish(frame(9), B, DAY, upstreams=[refs[0]])
    policy = retention.Policy(selection=Selection("flights"))
    plan = retention.plan(lake, policy, NOW + dt.timedelta(days=60))
    assert plan.objects == 0
    assert [d.dataset for d in plan.datasets] == [A]
    assert plan.datasets[0].kept[0].referenced_by == (f"gros://{B}:{DAY}",)


def test_a_dead_branch_goes_entirely_but_a_referenced_version(lake: Lake, raw: RawLake):
    publish_versions(lake, A, 1)
    f = publish_versions(lake, F, 2)
    lake.publish(frame(5), F, "2024-01-03", upstreams=[])
    lake.publish(frame(9), B, DAY, upstreams=[f[0]])  # report read the feature branch
    lake.publish(
        frame(9), F, "2024-01-04", upstreams=[GrosRef(repo="flights", branch="master", date=DAY)]
    )
    live = frozenset({"master"})
    plan = retention.plan(
        lake, retention.Policy(live_branches=live, selection=Selection("flights"))
    )
    (dead,) = [d for d in plan.datasets if d.dead]
    assert dead.dataset == F
    (kept,) = dead.kept
    assert kept.uri == f"gros://{F}:{DAY}@{f[0].sha256[:12]}"
    assert kept.referenced_by == (f"gros://{B}:{DAY}",)
    before = set(raw.all_keys())
    log = retention.apply(lake, plan)
    left = {k for k in raw.all_keys() if "feature%2Fx" in k}
    assert left == {F.version_key(DAY, f[0].sha256), F.version_record_key(DAY, f[0].sha256)}
    # its latest, audits and registrations went, its audit under master too
    assert F.audit_key(DAY, B) in before and F.audit_key(DAY, B) not in left
    assert A.audit_key(DAY, F) in before and not raw.exists(A.audit_key(DAY, F))
    gone = {r["key"] for r in json.loads(raw.get(log["key"]))["removed"]}
    assert gone == before - set(raw.all_keys())
    # the referenced version still reads by its sha256; master is untouched
    assert lake.locate(lake.record(B, DAY).upstreams[0]) == F.version_key(DAY, f[0].sha256)
    assert lake.read(f"gros://flights/master:{DAY}").equals(frame(0))
    # rerun: nothing more to free, the referenced version is reported kept again
    again = retention.plan(
        lake, retention.Policy(live_branches=live, selection=Selection("flights"))
    )
    assert again.objects == 0 and again.datasets[0].kept[0].uri == kept.uri
    # forced, the referenced version goes too
    forced = retention.Policy(live_branches=live, force=True, selection=Selection("flights"))
    retention.apply(lake, retention.plan(lake, forced))
    assert not [k for k in raw.all_keys() if "feature%2Fx" in k]


def test_without_live_branches_no_branch_is_dead(lake: Lake):
    publish_versions(lake, F, 1)
    plan = retention.plan(lake, retention.Policy(), NOW + dt.timedelta(days=365))
    assert plan.objects == 0 and not any(d.dead for d in plan.datasets)


def test_a_copy_of_the_current_bytes_is_not_removed(lake: Lake):
    refs = publish_versions(lake, A, 2)
    lake.publish(frame(0), A, DAY, upstreams=[], overwrite=True)  # the first bytes again
    assert [v.sha256 for v in lake.history(A, DAY)] == [refs[1].sha256, refs[0].sha256]
    plan = retention.plan(lake, retention.Policy(keep_days=0), NOW + dt.timedelta(days=1))
    assert sha256s(plan) == {refs[1].sha256}


def test_live_branches_are_one_repos(lake: Lake):
    publish_versions(lake, A, 1)
    publish_versions(lake, B, 1)
    with pytest.raises(LakeError, match="the selection holds 2 repos"):
        retention.plan(lake, retention.Policy(live_branches=frozenset({"master"})))


def test_parsing_the_options():
    text = "  origin/HEAD -> origin/master\n  origin/master\n\n  origin/feature/x\n* dev\n"
    assert retention.parse_live_branches(text) == {"master", "feature/x", "dev"}
    with pytest.raises(LakeError, match="lists no branch"):
        retention.parse_live_branches("\n \n")
    with pytest.raises(LakeError, match=r"line 2: invalid branch 'bad\.\.name'"):
        retention.parse_live_branches("master\nbad..name\n")
    assert retention.parse_branch_rule("feature/*=14") == ("feature/*", 14)
    assert retention.parse_branch_rule("a=b=0.5") == ("a=b", 0.5)
    for bad in ("feature/*", "=3", "x=-1", "x=soon", "x=nan"):
        with pytest.raises(LakeError, match="invalid --branch"):
            retention.parse_branch_rule(bad)
    with pytest.raises(LakeError, match="invalid --keep-days 'x'"):
        retention.parse_days("x")


def test_deleting_many_in_batches(lake: Lake, raw: RawLake):
    """2,500 keys (five of them held, the rest never written: no error) in three requests."""
    keys = [f"asset/x/master/versions/{DAY}/{i:064x}.csv.gz" for i in range(2500)]
    for key in keys[:5]:
        raw.put(key, b"x")
    if raw.s3:
        from lake_assets_tests.s3_requests import watching_requests

        sent: list[str] = []
        with watching_requests(lake.store.client, lambda r: sent.append(r.method)):
            lake.store.delete_many(keys)
        assert sent == ["POST", "POST", "POST"]  # 1000 + 1000 + 500
    else:
        lake.store.delete_many(keys)
        assert not (raw.root / "asset").exists()  # no empty directory left
        assert raw.root.is_dir()
    assert raw.all_keys() == []


@pytest.mark.parametrize("lake_url", ["s3"], indirect=True)
def test_keys_s3_would_not_delete_are_named(lake: Lake, monkeypatch: pytest.MonkeyPatch):
    prefix = lake.store.prefix

    def refusing(**kwargs):
        keys = [o["Key"] for o in kwargs["Delete"]["Objects"]]
        errors = [{"Key": k, "Code": "AccessDenied", "Message": "no"} for k in keys[:7]]
        return {"Deleted": [], "Errors": errors}

    monkeypatch.setattr(lake.store.client, "delete_objects", refusing)
    keys = [f"asset/x/master/versions/{DAY}/{i:064x}.csv.gz" for i in range(10)]
    with pytest.raises(LakeError, match="could not delete 7 of 10 objects") as e:
        lake.store.delete_many(keys)
    assert f"{keys[0]} (AccessDenied)" in str(e.value) and "and 2 more" in str(e.value)
    assert prefix not in str(e.value).split(": ", 1)[1]
