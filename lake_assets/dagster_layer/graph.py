"""The lake's dataset graph as Dagster sees it: which dataset reads which, with what tag."""

from collections.abc import Iterable
from dataclasses import dataclass

from dagster import AssetKey, AssetsDefinition, AssetSpec, PartitionsDefinition

from lake_assets.dagster_layer.io_manager import HEAVY_METADATA_KEY, URI_METADATA_KEY
from lake_assets.lake import DatasetId, LakeError, TagKind, parse_uri
from lake_assets.lake.watch import Edge


def dataset_or_none(key: AssetKey) -> DatasetId | None:
    if len(key.path) != 2:
        return None
    try:
        return DatasetId(*key.path)
    except LakeError:
        return None


@dataclass(frozen=True)
class LakeGraph:
    edges: tuple[Edge, ...]
    built: frozenset[DatasetId]
    partitions: dict[DatasetId, PartitionsDefinition]
    heavy: frozenset[DatasetId] = frozenset()

    @property
    def external(self) -> frozenset[DatasetId]:
        """Upstreams read here but published elsewhere (another location or team)."""
        return frozenset(e.upstream for e in self.edges) - self.built

    @property
    def watched(self) -> list[DatasetId]:
        """Every upstream whose `latest` can trigger a dataset built here."""
        return sorted({e.upstream for e in self.edges if e.kind is TagKind.NONE})

    @classmethod
    def from_assets(cls, assets: Iterable[object]) -> "LakeGraph":
        edges: list[Edge] = []
        built: set[DatasetId] = set()
        heavy: set[DatasetId] = set()
        partitions: dict[DatasetId, PartitionsDefinition] = {}
        for item in assets:
            if isinstance(item, AssetSpec):
                if (ds := dataset_or_none(item.key)) and item.partitions_def:
                    partitions[ds] = item.partitions_def
                continue
            if not isinstance(item, AssetsDefinition):
                continue
            if item.partitions_def is not None:
                for key in item.keys:
                    if ds := dataset_or_none(key):
                        partitions[ds] = item.partitions_def
            if not (item.is_executable and item.is_materializable):
                continue
            tags = {
                item.keys_by_input_name[name]: (
                    item.node_def.input_def_named(name).metadata or {}
                ).get(URI_METADATA_KEY)
                for name in item.keys_by_input_name
            }
            for key in item.keys:
                down = dataset_or_none(key)
                if down is None:
                    continue
                built.add(down)
                if item.specs_by_key[key].metadata.get(HEAVY_METADATA_KEY):
                    heavy.add(down)
                for up_key in item.asset_deps.get(key, set()):
                    up = dataset_or_none(up_key)
                    if up is None:
                        continue
                    uri = parse_uri(tags[up_key]) if tags.get(up_key) else None
                    kind = uri.kind if uri else TagKind.NONE
                    edges.append(Edge(down, up, kind, uri.tag if uri else None))
        edges_sorted = tuple(sorted(set(edges), key=str))
        return cls(edges_sorted, frozenset(built), partitions, frozenset(heavy))
