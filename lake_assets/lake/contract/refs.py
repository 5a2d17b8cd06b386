"""GrosRef and the production record: the JSON objects of GROS_SPEC §3."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lake_assets.lake.contract.errors import CorruptObject
from lake_assets.lake.contract.keys import DatasetId
from lake_assets.lake.contract.names import validate_branch, validate_date, validate_repo
from lake_assets.lake.contract.uri import SCHEME

_M = TypeVar("_M", bound="BaseModel")


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


class GrosRef(BaseModel):
    """One version of a dataset. Only repo, branch and date are required: foreign producers
    may write no more, and readers ignore fields they do not know."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    repo: str
    branch: str
    date: str
    uri: str | None = None
    sha256: str | None = None
    bytes: int | None = None
    rows: int | None = None
    created_at: str | None = None
    tag: str | None = Field(default=None, description="Set on downstream registrations only.")

    @field_validator("repo")
    @classmethod
    def _repo(cls, v: str) -> str:
        return validate_repo(v)

    @field_validator("branch")
    @classmethod
    def _branch(cls, v: str) -> str:
        return validate_branch(v)

    @field_validator("date")
    @classmethod
    def _date(cls, v: str) -> str:
        return validate_date(v)

    @property
    def dataset(self) -> DatasetId:
        return DatasetId(self.repo, self.branch)

    @property
    def version_uri(self) -> str:
        return f"{SCHEME}{self.repo}/{self.branch}:{self.date}"

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_json(cls, data: bytes, key: str) -> GrosRef:
        return _parse(cls, data, key)


class ProductionRecord(BaseModel):
    """What made one version: its ref, the upstream versions it read, and the producer."""

    model_config = ConfigDict(extra="ignore")

    gros_ref: GrosRef
    upstreams: list[GrosRef] = Field(default_factory=list)
    producer: dict[str, Any] = Field(default_factory=dict)
    columns: list[dict[str, str]] | None = Field(
        default=None, description="Column names and Arrow types, so readers parse them back."
    )
    newlines_in_values: bool | None = Field(
        default=None, description="False when no value holds a line break: parse in parallel."
    )
    data_etag: str | None = Field(
        default=None,
        description="The store's version token of the data object as published: a reader "
        "whose GET returns the same token has exactly the bytes `gros_ref.sha256` names.",
    )

    def to_json(self) -> bytes:
        return json.dumps(self.model_dump(mode="json", exclude_none=True), indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes, key: str) -> ProductionRecord:
        return _parse(cls, data, key)


def _parse(model: type[_M], data: bytes, key: str) -> _M:
    try:
        return model.model_validate_json(data)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(map(str, err['loc'])) or 'document'}: {err['msg']}" for err in e.errors()
        )
        raise CorruptObject(f"{key} is not a valid {model.__name__}: {problems}") from None
