"""`lake gc`: remove superseded versions and dead branches (GROS_SPEC §6); a dry run unless
`--apply`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lake_assets.cli.options import Json, Scope
from lake_assets.cli.render import emit_json, err, human_bytes, out, plural
from lake_assets.cli.session import current_lake
from lake_assets.lake import retention
from lake_assets.lake.catalog import Selection
from lake_assets.lake.contract.errors import LakeError


def gc(
    scope: Scope = None,
    keep_days: Annotated[
        str,
        typer.Option(
            "--keep-days",
            metavar="DAYS",
            help="Remove superseded versions older than this (their record's created_at, "
            "else their last-modified time).",
        ),
    ] = "30",
    branch: Annotated[
        list[str] | None,
        typer.Option(
            "--branch",
            metavar="PATTERN=DAYS",
            help="Another retention for branches matching PATTERN (fnmatch, e.g. "
            "'feature/*=14'); repeatable, the first match wins.",
        ),
    ] = None,
    live_branches: Annotated[
        str | None,
        typer.Option(
            "--live-branches",
            metavar="FILE",
            help="The branches that still exist, one a line (as `git branch -r` prints them; "
            "'-' reads stdin): every object of the repo's other branches goes. Without it no "
            "branch is dead.",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Remove versions even when a kept version names them as upstream."
        ),
    ] = False,
    apply: Annotated[
        bool, typer.Option("--apply", help="Delete (default: only print what would go).")
    ] = False,
    as_json: Json = False,
) -> None:
    """Remove superseded versions older than --keep-days and every object of branches not in
    --live-branches; never a current version of a live branch, nor (without --force) a
    version a kept version reads. A dry run unless --apply, which logs what it deleted under
    gc/ at the lake root."""
    policy = retention.Policy(
        keep_days=retention.parse_days(keep_days),
        branch_days=tuple(retention.parse_branch_rule(rule) for rule in branch or ()),
        live_branches=_live(live_branches) if live_branches is not None else None,
        force=force,
        selection=Selection.parse(scope),
    )
    lake = current_lake()
    with err.status(f"planning gc of {policy.selection} in {lake.store.url}", spinner="dots"):
        plan = retention.plan(lake, policy)
    log = None
    if apply:
        with err.status(f"deleting {plural(plan.objects, 'object')}", spinner="dots"):
            log = retention.apply(lake, plan)
    if as_json:
        emit_json({**plan.to_json(), "applied": apply, "log": log["key"] if log else None})
        return
    _report(plan, apply, log["key"] if log else None)


def _live(path: str) -> frozenset[str]:
    if path == "-":
        return retention.parse_live_branches(sys.stdin.read(), "stdin")
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise LakeError(f"cannot read --live-branches {path!r}: {e.strerror or e}") from None
    return retention.parse_live_branches(text, path)


def _days(days: float | None) -> str:
    return "dead" if days is None else f"{days:g} d"


def _report(plan: retention.GcPlan, applied: bool, log: str | None) -> None:
    for warning in plan.warnings:
        err.print(f"warning: {warning}", markup=False, soft_wrap=True)
    shown = [d for d in plan.datasets if d.removals or d.kept]
    if shown:
        table = Table()
        for column in ("dataset", "keep", "versions", "objects", "bytes", "kept: referenced"):
            table.add_column(column, overflow="fold")
        for d in shown:
            table.add_row(
                str(d.dataset),
                _days(d.keep_days),
                str(len(d.versions)),
                str(d.objects),
                human_bytes(d.bytes),
                "\n".join(f"{k.uri} (by {', '.join(k.referenced_by)})" for k in d.kept) or "-",
            )
        out.print(table)
    what = f"{plural(plan.objects, 'object')}, {human_bytes(plan.bytes)}"
    if applied:
        where = f"; log: {log}" if log else ""
        out.print(f"freed {what} in {plan.lake}{where}", markup=False, soft_wrap=True)
    else:
        out.print(
            f"dry run: would free {what} in {plan.lake} (pass --apply to delete)",
            markup=False,
            soft_wrap=True,
        )
