"""A blocking check that stops a day ends its OpenLineage run with FAIL, the failed assertion
and the step's message; the days of a range run stopped with it fail too."""

from __future__ import annotations

from typing import Any

from lake_assets.lake import Lake, openlineage
from lake_assets_tests.dagster_layer.test_blocking_checks import OUT, publish, range_tags, run
from lake_assets_tests.openlineage_receiver import Receiver


def _by_day(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        if e["job"]["name"] != str(OUT):
            continue
        day = e["run"]["facets"]["nominalTime"]["nominalStartTime"][:10]
        found.setdefault(day, []).append(e)
    return found


def _assertions(event: dict[str, Any]) -> dict[str, bool]:
    facet = event["outputs"][0]["facets"]["dataQualityAssertions"]
    return {a["assertion"]: a["success"] for a in facet["assertions"]}


def test_a_failed_check_ends_the_day_with_fail(
    resources: dict[str, Any], lake: Lake, ol_receiver: Receiver
) -> None:
    publish("2013-01-01", [1, 2, 3])
    publish("2013-01-02", [1, 2, 3], shift=-3)
    assert run(resources, partition_key="2013-01-01").success
    result = run(resources, partition_key="2013-01-02")
    assert not result.success
    assert openlineage.flush(10)
    days = _by_day(ol_receiver.take())

    good, bad = days["2013-01-01"], days["2013-01-02"]
    assert [e["eventType"] for e in good] == ["START", "COMPLETE"]
    assert _assertions(good[1]) == {"schema": True, "quarantine_budget": True}
    assert [e["eventType"] for e in bad] == ["START", "FAIL"]
    fail = bad[1]
    assert fail["run"]["runId"] == bad[0]["run"]["runId"]
    assert fail["run"]["facets"]["parent"]["run"]["runId"] == result.run_id
    message = fail["run"]["facets"]["errorMessage"]["message"]
    assert "check 'schema' failed" in message and "Nothing was published" in message
    assert _assertions(fail) == {"schema": False, "quarantine_budget": True}
    assert "version" not in fail["outputs"][0]["facets"]
    assert lake.dates(OUT) == ["2013-01-01"]


def test_a_range_run_stopped_by_one_day_fails_every_day(
    resources: dict[str, Any], ol_receiver: Receiver
) -> None:
    publish("2013-01-01", [1])
    publish("2013-01-02", [-5])
    result = run(resources, tags=range_tags("2013-01-01", "2013-01-02"))
    assert not result.success
    assert openlineage.flush(10)
    days = _by_day(ol_receiver.take())
    assert {d: [e["eventType"] for e in evs] for d, evs in days.items()} == {
        "2013-01-01": ["START", "FAIL"],
        "2013-01-02": ["START", "FAIL"],
    }
    assert _assertions(days["2013-01-01"][1])["schema"] is True
    assert _assertions(days["2013-01-02"][1])["schema"] is False
