"""The lake protocol of GROS_SPEC.md: names, keys, refs, URIs, stores and publishing.

Independent of Dagster, so notebooks and other teams' jobs use it with nothing else.
"""

from lake_assets.lake.contract.errors import (
    AlreadyPublished,
    CorruptObject,
    InvalidName,
    InvalidUri,
    LakeError,
    MissingDate,
    NotFound,
    PublishConflict,
    StoreUnavailable,
    UnknownDataset,
)
from lake_assets.lake.contract.keys import DatasetId
from lake_assets.lake.contract.refs import GrosRef, ProductionRecord
from lake_assets.lake.contract.uri import GrosUri, TagKind, parse_uri
from lake_assets.lake.lake import Lake

__all__ = [
    "AlreadyPublished",
    "CorruptObject",
    "DatasetId",
    "GrosRef",
    "GrosUri",
    "InvalidName",
    "InvalidUri",
    "Lake",
    "LakeError",
    "MissingDate",
    "NotFound",
    "ProductionRecord",
    "PublishConflict",
    "StoreUnavailable",
    "TagKind",
    "UnknownDataset",
    "parse_uri",
]
