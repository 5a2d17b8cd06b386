"""Object keys of GROS_SPEC §3, relative to the lake root."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from lake_assets.lake.contract.errors import InvalidName
from lake_assets.lake.contract.names import (
    quote_name,
    validate_branch,
    validate_date,
    validate_repo,
)

DATA_SUFFIX = ".csv.gz"
_DATA_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})\.csv\.gz")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_DATE = r"\d{4}-\d{2}-\d{2}"
RECORD_PATH = re.compile(rf"({_DATE})/metadata/({_DATE})\.json")
"""A date's production record, relative to `dependency_prefix` (both groups: the date)."""
VERSION_RECORD_PATH = re.compile(rf"({_DATE})/versions/([0-9a-f]{{64}})\.json")
"""A kept version's record, relative to `dependency_prefix`: groups date and sha256."""


@dataclass(frozen=True, order=True)
class DatasetId:
    """A dataset: `(repo, branch)`, validated on construction."""

    repo: str
    branch: str

    def __post_init__(self) -> None:
        validate_repo(self.repo)
        validate_branch(self.branch)

    def __str__(self) -> str:
        return f"{self.repo}/{self.branch}"

    @property
    def asset_prefix(self) -> str:
        return f"asset/{quote_name(self.repo)}/{quote_name(self.branch)}/"

    @property
    def dependency_prefix(self) -> str:
        return f"dependency/{quote_name(self.repo)}/{quote_name(self.branch)}/"

    @property
    def data_prefix(self) -> str:
        return f"{self.asset_prefix}data/"

    def date_of(self, key: str) -> str | None:
        """The DATE of `key` when it is one of this dataset's data objects (directly under
        `data/`, named `YYYY-MM-DD.csv.gz`); None for anything else."""
        name = key[len(self.data_prefix) :] if key.startswith(self.data_prefix) else "/"
        return None if "/" in name else date_of_data_key(name)

    def data_key(self, date: str) -> str:
        return f"{self.data_prefix}{validate_date(date)}{DATA_SUFFIX}"

    @property
    def latest_key(self) -> str:
        return f"{self.asset_prefix}metadata/latest"

    @property
    def downstreams_prefix(self) -> str:
        return f"{self.dependency_prefix}downstreams/"

    def registration_key(self, downstream: DatasetId) -> str:
        """Where this upstream lists `downstream` as a consumer (with the tag it reads by)."""
        return f"{self.downstreams_prefix}{quote_name(str(downstream))}"

    def audit_prefix(self, date: str) -> str:
        return f"{self.dependency_prefix}{validate_date(date)}/downstreams/"

    def audit_key(self, date: str, downstream: DatasetId) -> str:
        """Where version `date` of this dataset records a downstream version that read it."""
        return f"{self.audit_prefix(date)}{quote_name(str(downstream))}"

    def record_key(self, date: str) -> str:
        """The production record of version `date`: its ref, upstreams and producer."""
        date = validate_date(date)
        return f"{self.dependency_prefix}{date}/metadata/{date}.json"

    def versions_prefix(self, date: str) -> str:
        """Where the superseded data objects of `date` are kept (spec §6)."""
        return f"{self.asset_prefix}versions/{validate_date(date)}/"

    def version_key(self, date: str, sha256: str) -> str:
        return f"{self.versions_prefix(date)}{_sha256(sha256)}{DATA_SUFFIX}"

    def version_record_key(self, date: str, sha256: str) -> str:
        """The production record that went with a superseded version."""
        return f"{self.dependency_prefix}{validate_date(date)}/versions/{_sha256(sha256)}.json"


def _sha256(value: str) -> str:
    if not _SHA256.fullmatch(value):
        raise InvalidName(f"invalid sha256 {value!r}: 64 lowercase hex digits")
    return value


def sha256_of_version_key(name: str) -> str | None:
    """The sha256 of a `versions/DATE/` object's file name, or None for anything else."""
    sha = name.rsplit("/", 1)[-1].removesuffix(DATA_SUFFIX)
    return sha if name.endswith(DATA_SUFFIX) and _SHA256.fullmatch(sha) else None


def date_of_data_key(name: str) -> str | None:
    """The DATE of a data object's file name, or None for anything else under `data/`."""
    m = _DATA_NAME.fullmatch(name.rsplit("/", 1)[-1])
    if not m:
        return None
    try:
        return validate_date(m.group(1))
    except ValueError:
        return None


def dataset_of_prefix(repo_part: str, branch_part: str) -> DatasetId | None:
    """The dataset named by two quoted key segments, or None when they are not valid names."""
    try:
        return DatasetId(unquote(repo_part), unquote(branch_part))
    except ValueError:
        return None
