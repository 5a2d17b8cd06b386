"""`lake ls`: the datasets of a lake, or the versions of one dataset."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from lake_assets.cli.options import Json, Scope
from lake_assets.cli.render import emit_json, err, heading, human_bytes, out, progress
from lake_assets.cli.session import current_lake
from lake_assets.lake.catalog import DatasetSummary, Selection, datasets, summary
from lake_assets.lake.contract.errors import CorruptObject
from lake_assets.lake.lake import Lake


def ls(scope: Scope = None, as_json: Json = False) -> None:
    """List datasets: branches, newest date, number of dates and size. With REPO/BRANCH,
    also that dataset's versions and where `latest` points."""
    lake = current_lake()
    selection = Selection.parse(scope)
    found = datasets(lake, selection)
    summaries = []
    with progress("listing datasets", total=len(found)) as bar:
        for ds in found:
            summaries.append(summary(lake, ds))
            bar.advance(bar.task_ids[0])
    one = summaries[0] if selection.branch is not None else None
    latest = _latest_date(lake, one) if one is not None else None
    if as_json:
        rows = [_summary_json(s) for s in summaries]
        if one is not None:
            rows[0]["latest"] = latest
            rows[0]["versions"] = [{"date": v.date, "bytes": v.bytes} for v in one.versions]
        emit_json(rows)
        return
    if not summaries:
        out.print(f"no datasets in {lake.store.url}", markup=False, soft_wrap=True)
        return
    heading(f"datasets in {lake.store.url}")
    out.print(_datasets_table(summaries))
    if one is not None:
        heading(f"versions of gros://{one.dataset}")
        out.print(_versions_table(one, latest))


def _summary_json(s: DatasetSummary) -> dict[str, Any]:
    return {
        "repo": s.dataset.repo,
        "branch": s.dataset.branch,
        "uri": f"gros://{s.dataset}",
        "newest": s.newest,
        "dates": len(s.versions),
        "bytes": s.bytes,
    }


def _latest_date(lake: Lake, s: DatasetSummary) -> str | None:
    try:
        pointer = lake.latest_pointer(s.dataset)
    except CorruptObject as e:
        err.print(f"lake: warning: {e}", markup=False)
        return None
    return pointer[0].date if pointer else None


def _datasets_table(summaries: list[DatasetSummary]) -> Table:
    table = Table()
    table.add_column("repo")
    table.add_column("branch")
    table.add_column("newest")
    table.add_column("dates", justify="right")
    table.add_column("size", justify="right")
    for s in summaries:
        table.add_row(
            s.dataset.repo,
            s.dataset.branch,
            s.newest or "-",
            str(len(s.versions)),
            human_bytes(s.bytes),
        )
    return table


def _versions_table(s: DatasetSummary, latest: str | None) -> Table:
    table = Table()
    table.add_column("date")
    table.add_column("size", justify="right")
    table.add_column("")
    for v in reversed(s.versions):
        table.add_row(v.date, human_bytes(v.bytes), "latest" if v.date == latest else "")
    return table
