"""`lake history`, and `DATE@V` through `lake resolve/head/cat/info/lineage`."""

from __future__ import annotations

import pandas as pd

from lake_assets.lake import DatasetId, Lake

DS = DatasetId("flights", "master")
DOWN = DatasetId("report", "master")
DAY = "2024-01-02"


def three_versions(lake: Lake) -> list[str]:
    """DAY of flights published three times; report read the first version."""
    first = lake.publish(pd.DataFrame({"id": [1], "city": ["Zürich"]}), DS, DAY, upstreams=[])
    lake.publish(pd.DataFrame({"n": [1]}), DOWN, DAY, upstreams=[first])
    shas = [first.sha256]
    for i in (2, 3):
        frame = pd.DataFrame({"id": [i], "city": ["Zürich"]})
        shas.append(lake.publish(frame, DS, DAY, upstreams=[], overwrite=True).sha256)
    return shas


def test_history_lists_every_version_with_who_made_and_read_it(cli, lake: Lake) -> None:
    shas = three_versions(lake)
    got = cli("history", f"gros://flights:{DAY}", "--json").ok().json()
    rows = got["versions"]
    assert [r["sha256"] for r in rows] == shas
    assert [r["index"] for r in rows] == [-3, -2, -1]
    assert [r["current"] for r in rows] == [False, False, True]
    assert all(r["rows"] == 1 and r["user"] for r in rows)
    assert [[x["uri"] for x in r["read_by"]] for r in rows] == [
        [f"gros://report/master:{DAY}@{lake.history(DOWN, DAY)[-1].sha256[:12]}"],
        [],
        [],
    ]
    table = cli("history", f"gros://flights:{DAY}").ok().out
    assert shas[0][:12] in table and "current" in table and "report/master" in table
    cli("history", "gros://flights:latest").error("lake history needs a date")
    cli("history", "gros://flights:2024-02-01").error("has no data for 2024-02-01", DAY)


def test_a_version_through_every_read_command(cli, lake: Lake) -> None:
    shas = three_versions(lake)
    tag = f"gros://flights:{DAY}@{shas[0][:8]}"
    assert cli("head", tag).ok().out == '"id","city"\n1,"Zürich"\n'
    assert cli("cat", f"gros://flights:{DAY}@1").ok().out == '"id","city"\n2,"Zürich"\n'
    resolved = cli("resolve", tag, "--json").ok().json()
    assert resolved["key"] == DS.version_key(DAY, shas[0])
    assert resolved["ref"]["sha256"] == shas[0]
    info = cli("info", f"gros://flights:{DAY}@0", "--json").ok().json()
    assert info["ref"]["sha256"] == shas[0] and info["key"] == DS.version_key(DAY, shas[0])
    cli("head", f"gros://flights:{DAY}@7").error("index 7 is out of range", "3 version(s)")


def test_lineage_follows_the_version_read_after_republishes(cli, lake: Lake) -> None:
    shas = three_versions(lake)
    up = cli("lineage", f"gros://report:{DAY}", "--up", "--json").ok().json()
    (node,) = up["upstreams"]
    assert node["ref"]["sha256"] == shas[0] and node["exists"]
    # The first version's readers: report; the current one has none.
    first = cli("lineage", f"gros://flights:{DAY}@0", "--down", "--json").ok().json()
    assert [c["ref"]["repo"] for c in first["downstreams"]] == ["report"]
    current = cli("lineage", f"gros://flights:{DAY}", "--down", "--json").ok().json()
    assert current["downstreams"] == []
