"""`lake info` and `lake resolve`: what a URI names right now, and what is known of it."""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table

from lake_assets.cli.options import Json, Uri
from lake_assets.cli.render import emit_json, heading, human_bytes, or_unknown, out, ref_json
from lake_assets.cli.session import current_lake
from lake_assets.lake.contract.refs import GrosRef, ProductionRecord
from lake_assets.lake.contract.uri import parse_uri
from lake_assets.lake.lake import Lake


def resolve(uri: Uri, as_json: Json = False) -> None:
    """The version and object key a URI resolves to right now (what a notebook would read)."""
    lake = current_lake()
    u = parse_uri(uri)
    ref, key = lake.resolve_key(u)
    if as_json:
        emit_json(
            {"uri": uri, "resolved": ref.version_uri, **_location(lake, key), "ref": ref_json(ref)}
        )
        return
    out.print(ref.uri if u.version is not None else ref.version_uri, style="bold", soft_wrap=True)
    out.print(_ref_table(lake, ref, key))


def info(uri: Uri, as_json: Json = False) -> None:
    """The resolved version, its producer lineage and its registered downstreams."""
    lake = current_lake()
    u = parse_uri(uri)
    if u.version is not None and u.date is not None:
        v = lake.version(u.dataset, u.date, u.version)
        ref, key, record = v.ref, v.key, v.record
    else:
        ref, key = lake.resolve_key(u)
        record = lake.record(ref.dataset, ref.date)
    registered = lake.registrations(ref.dataset)
    read_by = lake.downstream_versions(ref.dataset, ref.date)
    if as_json:
        emit_json(
            {
                "uri": uri,
                "resolved": ref.version_uri,
                **_location(lake, key),
                "ref": ref_json(ref),
                "record": None if record is None else _record_json(record),
                "registered_downstreams": [ref_json(r) for r in registered],
                "read_by": [ref_json(r) for r in read_by],
            }
        )
        return
    out.print(ref.uri if u.version is not None else ref.version_uri, style="bold", soft_wrap=True)
    out.print(_ref_table(lake, ref, key))
    heading("producer")
    out.print(_producer_table(record))
    heading("registered downstreams (datasets that declare it, with their tag)")
    out.print(_downstreams_table(registered, tag=True))
    heading(f"versions that read {ref.version_uri}")
    out.print(_downstreams_table(read_by, tag=False))


def _location(lake: Lake, key: str) -> dict[str, str]:
    return {"key": key, "url": f"{lake.store.url.rstrip('/')}/{key}"}


def _record_json(record: ProductionRecord) -> dict[str, Any]:
    return {
        "upstreams": [ref_json(u) for u in record.upstreams],
        "producer": record.producer,
    }


def _fields() -> Table:
    table = Table(show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    return table


def _ref_table(lake: Lake, ref: GrosRef, key: str | None = None) -> Table:
    key = key or ref.dataset.data_key(ref.date)
    table = _fields()
    table.add_row("dataset", str(ref.dataset))
    table.add_row("date", ref.date)
    table.add_row("key", key)
    table.add_row("url", _location(lake, key)["url"])
    table.add_row("rows", or_unknown(ref.rows))
    table.add_row("bytes", f"{or_unknown(ref.bytes)} ({human_bytes(ref.bytes)})")
    table.add_row("sha256", or_unknown(ref.sha256))
    table.add_row("created", or_unknown(ref.created_at))
    return table


def producer_rows(record: ProductionRecord | None) -> list[tuple[str, str]]:
    """The producer block as label/value pairs, in the order people look for them."""
    if record is None:
        return [("record", "none (the producer wrote no production record)")]
    p = record.producer
    asset = p.get("asset_key")
    rows = [
        ("function", or_unknown(p.get("function"))),
        ("asset", "/".join(asset) if isinstance(asset, list) else or_unknown(asset)),
        ("run", or_unknown(p.get("run_id"))),
        ("parameters", json.dumps(p["parameters"]) if p.get("parameters") else "none"),
        ("code version", or_unknown(p.get("code_version"))),
        ("commit", or_unknown(p.get("git_commit"))),
        ("user", or_unknown(p.get("user"))),
    ]
    versions = p.get("versions")
    if isinstance(versions, dict) and versions:
        rows.append(("versions", ", ".join(f"{k} {v}" for k, v in versions.items())))
    else:
        rows.append(("versions", "unknown"))
    ups = ", ".join(u.version_uri for u in record.upstreams) or "none"
    rows.append(("upstreams", ups))
    return rows


def _producer_table(record: ProductionRecord | None) -> Table:
    table = _fields()
    for label, value in producer_rows(record):
        table.add_row(label, value)
    return table


def _downstreams_table(refs: list[GrosRef], *, tag: bool) -> Table:
    table = Table()
    table.add_column("dataset" if tag else "version")
    if tag:
        table.add_column("tag")
    for r in refs:
        if tag:
            table.add_row(f"gros://{r.dataset}", r.tag or "(none)")
        else:
            table.add_row(r.version_uri)
    if not refs:
        table.add_row(*(["none", ""] if tag else ["none"]))
    return table
