"""`lake sql`: a DuckDB query whose `'gros://...'` tables are lake versions, printed as a
table, JSON or CSV. Versions are read through the lake (`engines.sql_on`), so their types are
`lake_assets.read`'s and the reads are lineage like any other."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import math
import sys
import uuid
from typing import Annotated, Any

import typer
from rich.table import Table

from lake_assets.cli.options import Json
from lake_assets.cli.render import emit_json, out, plural
from lake_assets.cli.session import current_lake
from lake_assets.lake.contract.errors import LakeError

TABLE_ROWS = 100
"""Rows a table shows unless `--limit` says otherwise: a terminal is no place for more."""


class SqlError(LakeError):
    """DuckDB refused or failed the query: its message, as one line."""


def sql(
    query: Annotated[
        str,
        typer.Argument(
            metavar="QUERY",
            help="DuckDB SQL; 'gros://REPO[/BRANCH][:TAG]' after FROM or JOIN is that version.",
        ),
    ],
    as_json: Json = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV with a header.")] = False,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            min=0,
            metavar="N",
            help=f"Rows to print (default: all for --json/--csv, {TABLE_ROWS} for a table).",
        ),
    ] = None,
) -> None:
    """Run a DuckDB query whose 'gros://...' tables are lake versions.

    For example: lake sql "select carrier, count(*) from 'gros://flights_silver:-1' group by 1"
    """
    if as_json and as_csv:
        raise typer.BadParameter("--json and --csv exclude each other")
    import duckdb

    from lake_assets.lake import engines

    shown = limit if limit is not None or as_json or as_csv else TABLE_ROWS
    try:
        rel = engines.sql_on(current_lake(), query)
        if rel is None:  # a statement with no result (SET, CREATE ...)
            return
        names, types = rel.columns, [str(t) for t in rel.types]
        rows = rel.fetchall() if shown is None else rel.limit(shown + 1).fetchall()
    except duckdb.Error as e:
        raise SqlError(f"DuckDB: {e}") from None
    more = shown is not None and len(rows) > shown
    rows = rows[:shown] if shown is not None else rows
    if as_json:
        emit_json([dict(zip(names, map(_json_value, row), strict=True)) for row in rows])
    elif as_csv:
        _write_csv(names, rows)
    else:
        out.print(_table(names, types, rows))
        tail = f" (the first {shown}; --limit N shows more)" if more else ""
        out.print(f"{plural(len(rows), 'row')}{tail}", markup=False, soft_wrap=True)


def _table(names: list[str], types: list[str], rows: list[tuple[Any, ...]]) -> Table:
    table = Table()
    for name, type_ in zip(names, types, strict=True):
        numeric = type_.split("(")[0] in _NUMERIC
        table.add_column(f"{name}\n{type_.lower()}", justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*(_text(v, "NULL") for v in row))
    return table


_NUMERIC = {
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
}


def _write_csv(names: list[str], rows: list[tuple[Any, ...]]) -> None:
    """CSV as the lake writes it: strings always quoted and nulls empty, so the two stay
    apart."""
    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow(names)
    sys.stdout.write(header.getvalue())
    for row in rows:
        sys.stdout.write(",".join(_csv_field(v) for v in row) + "\n")
    sys.stdout.flush()


def _csv_field(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else _text(value, "")
    if isinstance(value, str) or any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _text(value: Any, null: str) -> str:
    if value is None:
        return null
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    return str(value)


def _json_value(value: Any) -> Any:
    """A value as JSON has it: numbers stay numbers (a non-finite float is null, as JSON
    has no NaN), times and other types become their text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | dt.timedelta):
        return str(value)
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return str(value)
