"""The partition mapping of an upstream, from the tag it is read by (GROS_SPEC §4).

Only a tagless upstream is partition-aligned. The IO manager reads tagged upstreams by URI at
run time anyway; the mapping tells Dagster (and the lineage graph) which partitions that is.
"""

from __future__ import annotations

from dagster import (
    AllPartitionMapping,
    LastPartitionMapping,
    PartitionMapping,
    SpecificPartitionsPartitionMapping,
    TimeWindowPartitionMapping,
)

from lake_assets.lake import GrosUri, TagKind


def partition_mapping(uri: GrosUri) -> PartitionMapping:
    match uri.kind:
        case TagKind.NONE:
            return TimeWindowPartitionMapping()
        case TagKind.LATEST:
            return LastPartitionMapping()
        case TagKind.DATE:
            assert uri.date is not None
            return SpecificPartitionsPartitionMapping([uri.date])
        case TagKind.INDEX if uri.index == -1:
            return LastPartitionMapping()
        case _:
            return AllPartitionMapping()
