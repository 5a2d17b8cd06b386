"""`lake history gros://REPO[/BRANCH]:DATE`: every version of a date, oldest first."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from lake_assets.cli.options import Json, Uri
from lake_assets.cli.render import emit_json, or_unknown, out, ref_json
from lake_assets.cli.session import current_lake
from lake_assets.lake.contract.errors import InvalidUri
from lake_assets.lake.contract.uri import TagKind, parse_uri
from lake_assets.lake.versions import Version


def history(uri: Uri, as_json: Json = False) -> None:
    """Every version of a date (spec §6) with its sha256, time, rows, the run and user that
    made it and the downstream versions that read it; `DATE@V` reads one of them."""
    u = parse_uri(uri)
    if u.kind is not TagKind.DATE or u.date is None or u.version is not None:
        raise InvalidUri(f"lake history needs a date: gros://REPO[/BRANCH]:YYYY-MM-DD, not {uri!r}")
    lake = current_lake()
    versions = lake.history(u.dataset, u.date) or [lake.resolve(u)]  # the error naming dates
    readers = lake.readers(u.dataset, u.date)
    rows = [_row(i - len(versions), v, readers.get(v.sha256, [])) for i, v in enumerate(versions)]
    if as_json:
        emit_json({"uri": str(u), "versions": rows})
        return
    table = Table()
    for column in ("@V", "sha256", "created (UTC)", "rows", "run", "user", "read by"):
        table.add_column(column, overflow="fold")
    for i, row in enumerate(rows):
        table.add_row(
            f"{i} / {row['index']}" + (" current" if row["current"] else ""),
            row["sha256"][:12],
            or_unknown(row["created_at"] and row["created_at"][:19].replace("T", " ")),
            or_unknown(row["rows"]),
            or_unknown(row["run_id"]),
            or_unknown(row["user"]),
            "\n".join(r["uri"] for r in row["read_by"]) or "none",
        )
    out.print(table)


def _row(index: int, v: Version, read_by: list[Any]) -> dict[str, Any]:
    producer = v.record.producer if v.record else {}
    return {
        "index": index,
        "current": v.current,
        "uri": f"gros://{v.ref.dataset}:{v.ref.date}@{v.sha256[:12]}",
        "key": v.key,
        "sha256": v.sha256,
        "bytes": v.ref.bytes,
        "rows": v.ref.rows,
        "created_at": v.ref.created_at,
        "run_id": producer.get("run_id"),
        "user": producer.get("user"),
        "read_by": [{**ref_json(r), "uri": r.uri or r.version_uri} for r in read_by],
    }
