"""Output helpers shared by the commands: rich consoles for people, plain JSON for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from lake_assets.lake.contract.refs import GrosRef

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def emit_json(value: Any) -> None:
    """JSON on stdout, bypassing rich so nothing is wrapped or styled."""
    sys.stdout.write(json.dumps(value, indent=2) + "\n")


def ref_json(ref: GrosRef) -> dict[str, Any]:
    return json.loads(ref.to_json())


def human_bytes(size: int | None) -> str:
    if size is None:
        return "unknown"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def heading(text: str) -> None:
    out.print(text, style="bold", markup=False, soft_wrap=True)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def or_unknown(value: object) -> str:
    return "unknown" if value is None or value == "" else str(value)


@contextmanager
def progress(description: str, total: int | None = None) -> Iterator[Progress]:
    """A progress bar on stderr, drawn only on a terminal so pipes and logs stay clean."""
    bar = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    with bar:
        bar.add_task(description, total=total)
        yield bar
