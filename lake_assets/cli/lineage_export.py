"""`lake lineage export`: every version's lineage as OpenLineage events, for a catalog."""

from __future__ import annotations

from typing import Annotated

import typer

from lake_assets.cli.options import Json
from lake_assets.cli.render import emit_json
from lake_assets.cli.session import current_lake
from lake_assets.lake.openlineage.export import export as export_events


def export(
    openlineage: Annotated[
        str,
        typer.Option(
            "--openlineage",
            metavar="URL|FILE",
            help="An OpenLineage receiver's http(s) URL (api/v1/lineage unless the URL has a "
            "path, as Marquez takes it), a file for one JSON event per line, or - for stdout.",
        ),
    ],
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="DATE", help="Only versions made on or after DATE (UTC)."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Send START and COMPLETE events of every version the lake holds (current and kept),
    with the exact upstream versions each was made from. Run it again: same events."""
    lake = current_lake()
    done = export_events(lake, openlineage, since)
    summary = {
        "events": done.events,
        "versions": done.versions,
        "datasets": done.datasets,
        "target": openlineage,
    }
    if as_json:
        emit_json(summary)
    elif openlineage != "-":
        typer.echo(
            f"exported {done.events} events ({done.versions} versions of {done.datasets} "
            f"datasets) from {lake.store.url} to {openlineage}"
        )
