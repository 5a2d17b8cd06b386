"""`lake diff A B [--key COL,...] [--json]` between dates, versions of a date (DATE@V) and
branches, on a local lake and moto's S3: exit 0 when equal, 1 when they differ (the diff on
stdout, nothing on stderr), 1 with one line on stderr (and nothing on stdout) on an error."""

from __future__ import annotations

import pandas as pd
import pytest

from lake_assets.lake import DatasetId, GrosRef, Lake

SALES = DatasetId("sales", "master")
FEATURE = DatasetId("sales", "feature/y")


def day1() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "city": ["Zürich", "東京", "Lyon", "Oslo"],
            "amount": [10.5, 20.0, None, 40.25],
        }
    )


@pytest.fixture
def seeded(lake: Lake) -> dict[str, GrosRef]:
    day2 = day1()
    day2.loc[1, "amount"] = 21.0  # id 2 changed
    day2 = pd.concat(
        [day2[day2["id"] != 4], pd.DataFrame({"id": [5], "city": ["Kyiv"], "amount": [5.0]})]
    )
    fixed = day2.copy()
    fixed.loc[fixed["id"] == 1, "city"] = "Zurich"  # the second version of 2024-01-02
    return {
        "d1": lake.publish(day1(), SALES, "2024-01-01", upstreams=[]),
        "d2v0": lake.publish(day2, SALES, "2024-01-02", upstreams=[]),
        "d2": lake.publish(fixed, SALES, "2024-01-02", upstreams=[], overwrite=True),
        "f1": lake.publish(day1().iloc[::-1], FEATURE, "2024-01-01", upstreams=[]),
    }


def test_equal_exits_0(cli, seeded: dict[str, GrosRef]) -> None:
    """The branch holds the same rows in another order: equal, by key or as multisets."""
    run = cli("diff", "gros://sales/feature/y:2024-01-01", "gros://sales:2024-01-01").ok()
    assert run.err == ""
    lines = run.out.splitlines()
    sha_f1, sha_d1 = seeded["f1"].sha256, seeded["d1"].sha256
    assert lines[0].startswith(f"A: gros://sales/feature/y:2024-01-01@{sha_f1[:12]}")
    assert lines[1].startswith(f"B: gros://sales/master:2024-01-01@{sha_d1[:12]}")
    assert lines[1].endswith(" (4 rows; asked: gros://sales:2024-01-01)")
    assert lines[2] == "equal (as multisets of whole rows)"
    body = cli("diff", "gros://sales/feature/y:2024-01-01", "gros://sales:0", "--key", "id")
    assert body.ok().out.splitlines()[2] == "equal (by key id)"


def test_dates_differ_by_key(cli, seeded: dict[str, GrosRef]) -> None:
    run = cli("diff", "gros://sales:2024-01-01", "gros://sales:2024-01-02@0", "--key", "id")
    assert run.code == 1, run.err
    assert run.err == ""
    out = run.out
    assert "3 in A, 4 in B" not in out
    assert "4 in A, 4 in B: 1 added, 1 removed, 1 changed" in out
    assert "changed cells per column" in out
    for text in ("added rows (all 1, as in B)", "Kyiv", "removed rows", "Oslo", "40.25"):
        assert text in out
    changed = out[out.index("changed rows") :]
    assert "amount" in changed and "20.0" in changed and "21.0" in changed
    assert "東京" not in changed  # the key and changed cells only

    multiset = cli("diff", "gros://sales:2024-01-01", "gros://sales:2024-01-02@0")
    assert multiset.code == 1 and multiset.err == ""
    assert "4 in A, 4 in B: 2 added, 2 removed" in multiset.out
    assert "changed rows" not in multiset.out


def test_versions_of_a_date_as_json(cli, seeded: dict[str, GrosRef]) -> None:
    run = cli("diff", "gros://sales:2024-01-02@-2", "gros://sales:2024-01-02", "-k", "id", "--json")
    assert run.code == 1 and run.err == ""
    body = run.json()
    v0, v1 = seeded["d2v0"].sha256, seeded["d2"].sha256
    assert body["a"]["sha256"] == v0 and body["b"]["sha256"] == v1
    assert body["a"]["asked"] == "gros://sales:2024-01-02@-2"
    assert body["a"]["version_uri"] == f"gros://sales/master:2024-01-02@{v0[:12]}"
    assert body["b"]["date"] == "2024-01-02" and body["b"]["rows"] == 4
    assert body["equal"] is False and body["key"] == ["id"]
    assert (body["rows_added"], body["rows_removed"], body["rows_changed"]) == (0, 0, 1)
    assert body["changed_cells"] == {"city": 1}
    assert body["examples"]["changed"] == [
        {"key": {"id": 1}, "changes": {"city": {"a": "Zürich", "b": "Zurich"}}}
    ]
    assert body["type_changes"] == {} and body["columns_added"] == []

    # the exact version a diff names can be diffed again, and is itself
    same = cli("diff", body["a"]["version_uri"], "gros://sales:2024-01-02@0", "--json")
    assert same.ok().json()["equal"] is True


def test_branch_against_master_as_json(cli, seeded: dict[str, GrosRef]) -> None:
    run = cli("diff", "gros://sales/feature/y:2024-01-01", "gros://sales:latest", "--json")
    assert run.code == 1 and run.err == ""
    body = run.json()
    assert body["a"]["branch"] == "feature/y" and body["b"]["date"] == "2024-01-02"
    assert body["key"] is None and body["rows_changed"] == 0
    assert (body["rows_a"], body["rows_b"], body["rows_added"], body["rows_removed"]) == (
        4,
        4,
        3,
        3,
    )
    removed = body["examples"]["removed"]
    assert [row["id"] for row in removed] == [4, 2, 1]  # in A's order
    assert removed[0] == {"id": 4, "city": "Oslo", "amount": 40.25}
    assert {row["id"] for row in body["examples"]["added"]} == {1, 2, 5}


def test_schema_changes(cli, lake: Lake) -> None:
    ds = DatasetId("shapes", "master")
    lake.publish(pd.DataFrame({"id": [1, 2], "n": [1, 2], "gone": ["a", "b"]}), ds, "2024-01-01")
    new = pd.DataFrame({"id": [1, 2], "n": [1.0, 2.5], "étiquette": ["x", "y"]})
    lake.publish(new, ds, "2024-01-02")
    run = cli("diff", "gros://shapes:0", "gros://shapes:1", "--key", "id")
    assert run.code == 1 and run.err == ""
    for text in ("schema", "added", "étiquette", "removed", "gone", "n: int64 -> float64"):
        assert text in run.out
    assert "2 in A, 2 in B: 0 added, 0 removed, 1 changed" in run.out
    body = cli("diff", "gros://shapes:0", "gros://shapes:1", "--key", "id", "--json").json()
    assert body["columns_added"] == ["étiquette"] and body["columns_removed"] == ["gone"]
    assert body["type_changes"] == {"n": {"a": "int64", "b": "float64"}}
    assert body["changed_cells"] == {"n": 1}  # 1 == 1.0; 2 != 2.5


def test_errors_are_one_line_and_nothing_on_stdout(cli, seeded: dict[str, GrosRef]) -> None:
    cases = [
        (("gros://sales:2024-13-01", "gros://sales:0"), ("2024-13-01",)),
        (("gros://sales:2023-01-01", "gros://sales:0"), ("2023-01-01", "2024-01-02")),
        (("gros://sales:0", "gros://salse:0"), ("salse", "sales")),
        (("gros://sales:0", "gros://sales:1", "--key", "nope"), ("'nope'", "gros://sales:0")),
        (("gros://sales:0", "gros://sales:1", "--key", "id,"), ("--key",)),
        (("gros://sales:0", "gros://sales:1", "--key", "city,,id"), ("empty column name",)),
    ]
    for args, fragments in cases:
        run = cli("diff", *args)
        run.error(*fragments)
        assert run.out == "", args
