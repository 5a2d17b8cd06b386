"""The lake's dataset graph as Dagster sees it: which dataset reads which, with what tag."""

from collections.abc import Iterable
from dataclasses import dataclass

from dagster import AssetKey, AssetsDefinition, AssetSpec, PartitionsDefinition

from lake_assets.dagster_layer.asset_keys import URI_METADATA_KEY, dataset_or_none
from lake_assets.dagster_layer.io_manager import HEAVY_METADATA_KEY
from lake_assets.lake import DatasetId, TagKind, parse_uri
from lake_assets.lake.watch import Edge


def datasets_by_key(assets: Iterable[object]) -> dict[AssetKey, DatasetId]:
    """Every lake dataset among the definitions, by asset key (from its `gros_uri` metadata:
    the key spells the branch)."""
    found: dict[AssetKey, DatasetId] = {}
    for item in assets:
        if isinstance(item, AssetSpec):
            specs = [item]
        elif isinstance(item, AssetsDefinition):
            specs = list(item.specs)
        else:
            continue
        for spec in specs:
            if (ds := dataset_or_none(spec.key, spec.metadata)) is not None:
                found[spec.key] = ds
    return found


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
        assets = list(assets)
        datasets = datasets_by_key(assets)

        def dataset(key: AssetKey) -> DatasetId | None:
            return datasets.get(key) or dataset_or_none(key)

        edges: list[Edge] = []
        built: set[DatasetId] = set()
        heavy: set[DatasetId] = set()
        partitions: dict[DatasetId, PartitionsDefinition] = {}
        for item in assets:
            if isinstance(item, AssetSpec):
                if (ds := dataset(item.key)) and item.partitions_def:
                    partitions[ds] = item.partitions_def
                continue
            if not isinstance(item, AssetsDefinition):
                continue
            if item.partitions_def is not None:
                for key in item.keys:
                    if ds := dataset(key):
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
                down = dataset(key)
                if down is None:
                    continue
                built.add(down)
                if item.specs_by_key[key].metadata.get(HEAVY_METADATA_KEY):
                    heavy.add(down)
                for up_key in item.asset_deps.get(key, set()):
                    uri = parse_uri(tags[up_key]) if tags.get(up_key) else None
                    up = uri.dataset if uri else dataset(up_key)
                    if up is None:
                        continue
                    kind = uri.kind if uri else TagKind.NONE
                    edges.append(Edge(down, up, kind, uri.tag if uri else None))
        edges_sorted = tuple(sorted(set(edges), key=str))
        return cls(edges_sorted, frozenset(built), partitions, frozenset(heavy))
