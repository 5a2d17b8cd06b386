"""`lake lineage`: trees of versions from production records and audit objects, including a
version a foreign producer wrote with plain boto3 / plain files."""

from __future__ import annotations

import pandas as pd

from lake_assets.lake import DatasetId, Lake
from lake_assets_tests.cli.conftest import RawLake

RAW = DatasetId("raw", "master")
CLEAN = DatasetId("clean", "master")
GOLD = DatasetId("gold", "release/1")
FOREIGN = DatasetId("partner", "master")
DAY = "2024-05-01"


def test_lineage_tree(cli, lake: Lake, raw: RawLake) -> None:
    df = pd.DataFrame({"v": [1, 2]})
    r = lake.publish(df, RAW, DAY, upstreams=[], producer={"function": "ingest.load"})
    c = lake.publish(
        df, CLEAN, DAY, upstreams=[r], producer={"function": "etl.clean", "run_id": "r-1"}
    )
    lake.publish(df, GOLD, DAY, upstreams=[c], producer={"function": "etl.gold"})
    # Another team's job: data, a minimal production record and the audit object, no project code.
    raw.put_csv(FOREIGN.data_key(DAY), "v\n1\n")
    raw.put_json(
        FOREIGN.record_key(DAY),
        {
            "gros_ref": {"repo": "partner", "branch": "master", "date": DAY},
            "upstreams": [{"repo": "clean", "branch": "master", "date": DAY}],
            "producer": {"function": "partner_ci.export", "user": "ci-bot@partner"},
        },
    )
    raw.put_json(
        CLEAN.audit_key(DAY, FOREIGN), {"repo": "partner", "branch": "master", "date": DAY}
    )

    doc = cli("lineage", f"gros://clean:{DAY}", "--json").ok().json()
    assert doc["version"]["uri"] == f"gros://clean/master:{DAY}"
    assert doc["record"]["producer"]["function"] == "etl.clean"
    assert [n["uri"] for n in doc["upstreams"]] == [f"gros://raw/master:{DAY}"]
    assert doc["upstreams"][0]["producer"]["function"] == "ingest.load"
    assert doc["upstreams"][0]["upstreams"] == [] and doc["upstreams"][0]["exists"]
    readers = {n["uri"]: n for n in doc["downstreams"]}
    assert set(readers) == {f"gros://gold/release/1:{DAY}", f"gros://partner/master:{DAY}"}
    assert readers[f"gros://partner/master:{DAY}"]["producer"]["user"] == "ci-bot@partner"

    # From the foreign version up, two levels deep: partner <- clean <- raw, no further.
    up = cli("lineage", "gros://partner", "--up", "--depth", "1", "--json").ok().json()
    assert "downstreams" not in up
    (clean,) = up["upstreams"]
    assert clean["uri"] == f"gros://clean/master:{DAY}"
    assert clean["upstreams"] == [] and clean["truncated"] is True

    people = cli("lineage", "gros://partner").ok().out
    for text in (
        "input versions",
        "creation method",
        "output",
        "->",
        "function partner_ci.export",
        "originator ci-bot@partner",
        f"gros://clean/master:{DAY}",
        f"gros://raw/master:{DAY}",
        "function ingest.load",
        "no reader recorded",
        "╭",
    ):
        assert text in people, text

    down = cli("lineage", f"gros://raw:{DAY}", "--down").ok().out
    assert f"versions that read gros://raw/master:{DAY}" in down
    assert f"gros://gold/release/1:{DAY}" in down and "upstream versions that made" not in down
