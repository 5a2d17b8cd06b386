"""`lake diff A B [--key COL,...]`: what differs between the versions two URIs name.

Exits 0 when they are equal, 1 when they differ (like `diff`), printing the difference on
stdout and nothing on stderr; an error (a bad URI, a key that is not unique, ...) is the app's
one line `lake: error: ...` on stderr, with nothing on stdout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from lake_assets.cli.options import Json
from lake_assets.cli.render import emit_json, heading, out, plural, ref_json
from lake_assets.cli.session import current_lake

if TYPE_CHECKING:  # pandas comes with lake_assets.lake.diff, imported when the command runs
    from lake_assets.lake.contract.refs import GrosRef
    from lake_assets.lake.diff import FrameDiff

EXIT_DIFFER = 1
_WIDEST = 60
"""Characters of a value shown in a table; the JSON has them whole."""

UriA = Annotated[str, typer.Argument(metavar="A", help="gros://REPO[/BRANCH][:TAG], the old side")]
UriB = Annotated[str, typer.Argument(metavar="B", help="gros://REPO[/BRANCH][:TAG], the new side")]
Key = Annotated[
    str | None,
    typer.Option(
        "--key",
        "-k",
        metavar="COL,...",
        help="Match rows by these columns (unique on each side) and report changed cells; "
        "without it rows compare as multisets of whole rows.",
    ),
]
Examples = Annotated[
    int, typer.Option("--examples", "-n", min=0, help="Example rows shown of each kind.")
]


def diff(a: UriA, b: UriB, key: Key = None, examples: Examples = 5, as_json: Json = False) -> None:
    """What differs from A to B (dates, versions DATE@V, branches): schema changes, rows
    added, removed and changed, changed cells per column, with examples. Exit 0 when equal,
    1 when they differ."""
    from lake_assets.lake.diff import diff_uris

    keys = _keys(key)
    found, ref_a, ref_b = diff_uris(current_lake(), a, b, keys, examples)
    if as_json:
        emit_json({"a": _side(a, ref_a), "b": _side(b, ref_b), **found.to_json()})
    else:
        _print(found, (a, ref_a), (b, ref_b))
    if not found.equal:
        raise typer.Exit(EXIT_DIFFER)


def _keys(key: str | None) -> list[str] | None:
    from lake_assets.lake.diff import DiffError

    if key is None:
        return None
    keys = [k.strip() for k in key.split(",")]
    if not all(keys):
        raise DiffError(f"--key {key!r} has an empty column name: give COL or COL,COL,...")
    return keys


def _exact(ref: GrosRef) -> str:
    """The URI of exactly the version read (`DATE@` its sha256 prefix, spec §6)."""
    return f"{ref.version_uri}@{ref.sha256[:12]}" if ref.sha256 else ref.version_uri


def _side(uri: str, ref: GrosRef) -> dict[str, Any]:
    return {**ref_json(ref), "asked": uri, "version_uri": _exact(ref)}


def _print(found: FrameDiff, *sides: tuple[str, GrosRef]) -> None:
    for label, (uri, ref) in zip("AB", sides, strict=True):
        line = Text(f"{label}: {_exact(ref)}", style="bold")
        line.append(f" ({plural(ref.rows or 0, 'row')}", style="none")
        line.append(f"; asked: {uri})" if uri != _exact(ref) else ")", style="none")
        out.print(line, soft_wrap=True)
    how = f"by key {', '.join(found.key)}" if found.key else "as multisets of whole rows"
    if found.equal:
        out.print(f"equal ({how})", style="green", markup=False)
        return
    _print_schema(found)
    heading(f"rows ({how})")
    counts = f"{found.rows_a} in A, {found.rows_b} in B: {found.rows_added} added, "
    counts += f"{found.rows_removed} removed"
    if found.key:
        counts += f", {found.rows_changed} changed"
    out.print(counts, markup=False, soft_wrap=True)
    if found.changed_cells:
        heading("changed cells per column")
        table = Table()
        table.add_column("column")
        table.add_column("cells", justify="right")
        for column, n in found.changed_cells.items():
            table.add_row(Text(column), str(n))
        out.print(table)
    _print_rows("added", found.rows_added, found.added_examples, "B")
    _print_rows("removed", found.rows_removed, found.removed_examples, "A")
    if found.changed_examples:
        _print_changes(found)


def _print_schema(found: FrameDiff) -> None:
    if found.schema_equal:
        return
    heading("schema")
    table = Table(show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for column in found.columns_added:
        table.add_row("added", Text(column))
    for column in found.columns_removed:
        table.add_row("removed", Text(column))
    for column, (old, new) in found.type_changes.items():
        table.add_row("type", Text(f"{column}: {old} -> {new}"))
    if found.columns_reordered:
        table.add_row("order", "the common columns are in another order in B")
    out.print(table)


def _print_rows(what: str, total: int, rows: list[dict[str, Any]], side: str) -> None:
    if not rows:
        return
    heading(f"{what} rows ({_shown(len(rows), total)}, as in {side})")
    table = Table()
    columns = list(rows[0])
    if len(columns) <= _ACROSS:
        for column in columns:
            table.add_column(Text(column), overflow="fold")
        for row in rows:
            table.add_row(*(_cell(v) for v in row.values()))
    else:  # too many columns to read across a terminal: one example per column instead
        table.add_column("column")
        for i in range(len(rows)):
            table.add_column(f"#{i + 1}", overflow="fold")
        for column in columns:
            table.add_row(Text(column), *(_cell(row[column]) for row in rows))
    out.print(table)


def _print_changes(found: FrameDiff) -> None:
    assert found.key is not None
    heading(f"changed rows ({_shown(len(found.changed_examples), found.rows_changed)})")
    table = Table()
    for column in found.key:
        table.add_column(Text(column), overflow="fold")
    for title in ("column", "A", "B"):
        table.add_column(title, overflow="fold")
    for example in found.changed_examples:
        key = [_cell(v) for v in example["key"].values()]
        for i, (column, change) in enumerate(example["changes"].items()):
            shown_key = key if i == 0 else [Text("") for _ in key]
            table.add_row(*shown_key, Text(column), _cell(change["a"]), _cell(change["b"]))
    out.print(table)


_ACROSS = 6
"""Example rows with more columns than this are shown transposed."""


def _shown(n: int, total: int) -> str:
    return f"all {total}" if n == total else f"first {n} of {total}"


def _cell(value: Any) -> Text:
    if value is None:
        return Text("null", style="dim italic")
    text = value if isinstance(value, str) else str(value)
    if len(text) > _WIDEST:
        text = text[: _WIDEST - 1] + "…"
    return Text(text)
