"""Lake versions for DuckDB and Polars, read through the lake's own path (the record's column
types, lineage as for any read, GROS_SPEC §5) and handed over as Arrow, so each engine sees
the types `lake_assets.read` gives, not what its own CSV sniffer would guess.

`storage_options` are those of `lake_assets.read`: `lake_url` names another lake, the rest
are boto3 client arguments such as `endpoint_url`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from lake_assets.lake.contract.errors import InvalidUri, NotFound
from lake_assets.lake.lake import Lake

if TYPE_CHECKING:
    import duckdb
    import polars
    import pyarrow as pa

TABLE_LITERAL = re.compile(r"(?i)\b(from|join)(\s+)'(gros://(?:[^']|'')*)'")
"""A single-quoted `gros://` literal used as a table: after FROM or JOIN (`''` escapes a
quote, as in any SQL string)."""


def read_arrow(uri: str, *, lake_url: str | None = None, **storage_options: Any) -> pa.Table:
    """The version a `gros://` URI names as Arrow, with the column types of
    `lake_assets.read`; inside a run, the read becomes lineage."""
    return arrow_of(Lake.open(lake_url, **storage_options), uri)


def arrow_of(lake: Lake, uri: str) -> pa.Table:
    """`read_arrow` on an open lake: the read recorded, an unknown URI named in its error."""
    try:
        table, _ = lake.read_arrow_with_ref(uri)
    except (InvalidUri, NotFound) as e:
        if uri in str(e):
            raise
        raise type(e)(f"{uri}: {e}") from None
    return table


def read_polars(
    uri: str, *, lake_url: str | None = None, **storage_options: Any
) -> polars.DataFrame:
    """The version a `gros://` URI names as a Polars DataFrame, with the rows and column
    types of `lake_assets.read` (strings as String, timestamps in microseconds)."""
    pl = _polars()
    table = read_arrow(uri, lake_url=lake_url, **storage_options)
    return pl.from_arrow(table, rechunk=False)  # type: ignore[return-value]


def sql(
    query: str,
    *,
    connection: duckdb.DuckDBPyConnection | None = None,
    lake_url: str | None = None,
    **storage_options: Any,
) -> duckdb.DuckDBPyRelation | None:
    """Run DuckDB SQL whose tables may be lake versions: each `'gros://...'` literal after
    FROM or JOIN becomes a view, named after its repo, of the version it names, read now
    with the types `lake_assets.read` gives. The views live on `connection` (replacing
    views of those names), else on a connection of their own; an unknown URI is the lake's
    error, raised before DuckDB sees the query."""
    return sql_on(Lake.open(lake_url, **storage_options), query, connection)


def sql_on(
    lake: Lake, query: str, connection: duckdb.DuckDBPyConnection | None = None
) -> duckdb.DuckDBPyRelation | None:
    """`sql` on an open lake (None where DuckDB gives no relation for a statement)."""
    import duckdb

    text, tables = lake_tables(query)
    con = connection
    if con is None:
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")  # as the lake writes and pandas shows them
    for name, uri in tables.items():
        table = arrow_of(lake, uri)
        if not table.num_columns:
            raise duckdb.InvalidInputException(f"{uri} has no columns, which DuckDB cannot query")
        con.register(name, table)
    return con.sql(text)


def lake_tables(query: str) -> tuple[str, dict[str, str]]:
    """The query with its `gros://` table literals replaced by quoted view names, and the
    URI of each name; one name per distinct URI, the repo's (with `_2`, `_3` for more
    versions of one repo)."""
    from lake_assets.lake.contract.uri import parse_uri

    names: dict[str, str] = {}
    taken: set[str] = set()

    def view(match: re.Match[str]) -> str:
        uri = match.group(3).replace("''", "'")
        if uri not in names:
            repo = parse_uri(uri).dataset.repo
            name, n = repo, 1
            while name in taken:
                n += 1
                name = f"{repo}_{n}"
            names[uri] = name
            taken.add(name)
        quoted = names[uri].replace('"', '""')
        return f'{match.group(1)}{match.group(2)}"{quoted}"'

    text = TABLE_LITERAL.sub(view, query)
    return text, {name: uri for uri, name in names.items()}


def _polars() -> Any:
    try:
        import polars
    except ImportError:
        raise ImportError(
            "reading the lake into Polars needs polars: pip install 'lake_assets[polars]'"
        ) from None
    return polars
