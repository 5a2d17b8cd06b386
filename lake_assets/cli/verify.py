"""`lake verify`: check the lake's integrity, report each problem, exit non-zero if any."""

from __future__ import annotations

import typer
from rich.table import Table

from lake_assets.cli.integrity import Checker, Problem, scan
from lake_assets.cli.options import Json, Scope
from lake_assets.cli.render import emit_json, err, out, plural, progress
from lake_assets.cli.session import current_lake
from lake_assets.lake.catalog import Selection

EXIT_PROBLEMS = 1


def verify(scope: Scope = None, as_json: Json = False) -> None:
    """Check every latest, production record, audit object and registration of REPO[/BRANCH]
    (default: the whole lake) against the data objects they name, and its history: kept
    versions against their sha256, and upstreams named by sha256 against the bytes held."""
    lake = current_lake()
    selection = Selection.parse(scope)
    with err.status(f"listing {selection} in {lake.store.url}", spinner="dots"):
        listings, problems = scan(lake, selection)
    objects = sum(listing.objects for listing in listings)
    with progress("verifying", total=objects) as bar:
        checker = Checker(lake, listings, lambda: bar.advance(bar.task_ids[0]))
        problems.extend(checker.run())
    problems.sort(key=lambda p: (p.key, p.code))
    if as_json:
        emit_json(
            {
                "lake": lake.store.url,
                "scope": str(selection),
                "datasets": len(listings),
                "objects": objects,
                "hashed": checker.hashed,
                "ok": not problems,
                "problems": [p.__dict__ for p in problems],
            }
        )
    else:
        _report(problems, len(listings), objects, checker.hashed, lake.store.url)
    if problems:
        raise typer.Exit(EXIT_PROBLEMS)


def _report(problems: list[Problem], datasets: int, objects: int, hashed: int, url: str) -> None:
    checked = (
        f"{plural(datasets, 'dataset')}, {plural(objects, 'object')}, "
        f"{plural(hashed, 'data object')} hashed, in {url}"
    )
    if not problems:
        out.print(f"OK: no problems ({checked})", markup=False, soft_wrap=True)
        return
    table = Table()
    table.add_column("object", overflow="fold")
    table.add_column("problem", overflow="fold")
    table.add_column("code")
    for p in problems:
        table.add_row(p.key, p.message, p.code)
    out.print(table)
    out.print(
        f"FAILED: {plural(len(problems), 'problem')} ({checked})", markup=False, soft_wrap=True
    )
