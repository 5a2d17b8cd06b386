"""`lake lineage`: the versions that made one version and the versions that read it, drawn in
boxes like radops' lineage, from the lake's own production records and audit objects only (so
data published by a CI job or plain boto3 shows up like data made by Dagster)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import typer
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from lake_assets.cli.inspect import producer_rows
from lake_assets.cli.options import Json, Uri
from lake_assets.cli.render import emit_json, or_unknown, out, ref_json
from lake_assets.cli.session import current_lake
from lake_assets.lake.contract.errors import CorruptObject
from lake_assets.lake.contract.refs import GrosRef, ProductionRecord
from lake_assets.lake.contract.uri import parse_uri
from lake_assets.lake.lake import Lake

Direction = Literal["upstreams", "downstreams"]


@dataclass
class Node:
    """One version in a lineage tree, with what the lake records about it."""

    ref: GrosRef
    exists: bool
    record: ProductionRecord | None = None
    problem: str | None = None
    children: list[Node] = field(default_factory=list)
    truncated: bool = False
    repeated: bool = False

    def to_json(self, direction: Direction) -> dict[str, Any]:
        return {
            "uri": self.ref.version_uri,
            "ref": ref_json(self.ref),
            "exists": self.exists,
            "producer": None if self.record is None else self.record.producer,
            "problem": self.problem,
            "truncated": self.truncated,
            "repeated": self.repeated,
            direction: [c.to_json(direction) for c in self.children],
        }


def lineage(
    uri: Uri,
    up: Annotated[bool, typer.Option("--up", help="Only the upstream versions.")] = False,
    down: Annotated[bool, typer.Option("--down", help="Only the downstream versions.")] = False,
    depth: Annotated[int, typer.Option("--depth", min=1, help="Levels to follow.")] = 3,
    as_json: Json = False,
) -> None:
    """The lineage of one version: what made it (--up) and what read it (--down)."""
    lake = current_lake()
    ref = lake.resolve(parse_uri(uri))
    directions: list[Direction] = []
    if up or not down:
        directions.append("upstreams")
    if down or not up:
        directions.append("downstreams")
    trees = {d: build(lake, ref, d, depth) for d in directions}
    root = next(iter(trees.values()))
    if as_json:
        emit_json(
            {
                "uri": uri,
                "version": ref_json(ref),
                "record": None if root.record is None else root.record.model_dump(mode="json"),
                "problem": root.problem,
                **{d: [c.to_json(d) for c in tree.children] for d, tree in trees.items()},
            }
        )
        return
    out.print(radops_row(root))
    out.print(_footer(root))
    for direction, tree in trees.items():
        out.print()
        out.print(draw(tree, direction))


def build(lake: Lake, ref: GrosRef, direction: Direction, depth: int) -> Node:
    """The tree from `ref` along `direction`, `depth` levels deep; a version reached twice
    is expanded once."""
    seen: set[tuple[str, str, str]] = set()

    def visit(ref: GrosRef, level: int) -> Node:
        node = Node(ref, exists=False)
        try:
            node.record, node.exists = _exact(lake, ref)
        except CorruptObject as e:
            node.problem = str(e)
        ident = (ref.repo, ref.branch, ref.date, ref.sha256 or "")
        if ident in seen:
            node.repeated = True
            return node
        seen.add(ident)
        try:
            nexts = _next(lake, node, direction)
        except CorruptObject as e:
            node.problem = str(e)
            nexts = []
        if level >= depth:
            node.truncated = bool(nexts)
            return node
        node.children = [visit(n, level + 1) for n in nexts]
        return node

    return visit(ref, 0)


def _exact(lake: Lake, ref: GrosRef) -> tuple[ProductionRecord | None, bool]:
    """The record of the very version `ref` names (by sha256, current or kept, spec §6) and
    whether its bytes are held; without a sha256, the date's current version."""
    ds = ref.dataset
    if ref.sha256:
        for v in lake.history(ds, ref.date):
            if v.sha256 == ref.sha256:
                return v.record, True
        return None, False
    return lake.record(ds, ref.date), lake.store.head(ds.data_key(ref.date)) is not None


def _next(lake: Lake, node: Node, direction: Direction) -> list[GrosRef]:
    if direction == "upstreams":
        return list(node.record.upstreams) if node.record else []
    ref = node.ref
    if not ref.sha256:
        return lake.downstream_versions(ref.dataset, ref.date)
    readers = lake.readers(ref.dataset, ref.date)  # of these very bytes, then of the date
    return readers.get(ref.sha256, []) + readers.get(None, [])


def radops_row(node: Node) -> RenderableType:
    """input versions -> creation method -> output, as in radops' `lineage` drawing."""
    p = node.record.producer if node.record else {}
    inputs = [u.version_uri for u in node.record.upstreams] if node.record else []
    method = Text()
    if node.record is None:
        method.append("no production record")
    else:
        method.append(f"function {or_unknown(p.get('function'))}")
        for label, key in (("asset", "asset_key"), ("run", "run_id")):
            if value := p.get(key):
                text = "/".join(value) if isinstance(value, list) else str(value)
                method.append(f"\n{label} {text}")
    output = Text(f"uri {node.ref.version_uri}")
    output.append(f"\noriginator {or_unknown(p.get('user'))}")
    if node.ref.rows is not None:
        output.append(f"\nrows {node.ref.rows}")
    grid = Table.grid(padding=(0, 1))
    for _ in range(5):
        grid.add_column(vertical="top")
    grid.add_row(
        _box("input versions", Text("\n".join(inputs) or "none")),
        "\n\n->",
        _box("creation method", method),
        "\n\n->",
        _box("output", output),
    )
    return grid


def _box(title: str, body: Text) -> Panel:
    return Panel(Group(Text(title, justify="center"), Text(), body), expand=False)


def _footer(node: Node) -> RenderableType:
    rows = dict(producer_rows(node.record))
    lines = []
    for label in ("code version", "commit", "parameters", "versions"):
        if label in rows:
            lines.append(f"{label}: {rows[label]}")
    if node.problem:
        lines.append(f"problem: {node.problem}")
    return Text("\n".join(lines))


def draw(root: Node, direction: Direction) -> Tree:
    title = "upstream versions that made" if direction == "upstreams" else "versions that read"
    tree = Tree(Text(f"{title} {root.ref.version_uri}", style="bold"))

    def add(parent: Tree, node: Node) -> None:
        branch = parent.add(_node_box(node))
        for child in node.children:
            add(branch, child)
        if node.truncated:
            branch.add(Text("... more (raise --depth)", style="dim"))

    for child in root.children:
        add(tree, child)
    if not root.children:
        none = "no upstream recorded" if direction == "upstreams" else "no reader recorded"
        tree.add(Text(none, style="dim"))
    return tree


def _node_box(node: Node) -> Panel:
    body = Text(node.ref.version_uri, style="bold")
    if not node.exists:
        body.append("\ndata object missing", style="red")
    if node.problem:
        body.append(f"\n{node.problem}", style="red")
    if node.record is None and not node.problem:
        body.append("\nno production record")
    elif node.record is not None:
        p = node.record.producer
        body.append(f"\nfunction {or_unknown(p.get('function'))}")
        body.append(f"\noriginator {or_unknown(p.get('user'))}")
        if created := node.record.gros_ref.created_at:
            body.append(f"\ncreated {created}")
    if node.repeated:
        body.append("\n(already shown above)", style="dim")
    return Panel(body, expand=False)
