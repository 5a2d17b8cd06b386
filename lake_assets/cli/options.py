"""Arguments and options several commands share."""

from __future__ import annotations

from typing import Annotated

import typer

Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]
Uri = Annotated[str, typer.Argument(metavar="URI", help="gros://REPO[/BRANCH][:TAG]")]
Scope = Annotated[
    str | None,
    typer.Argument(metavar="REPO[/BRANCH]", help="A repo, or one dataset (default: all)."),
]
