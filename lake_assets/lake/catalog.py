"""What a lake holds: its datasets and their versions, found by listing the store alone, so
datasets written by any producer (Dagster, a CI job, plain boto3) show up alike."""

from __future__ import annotations

from dataclasses import dataclass

from lake_assets.lake import suggest
from lake_assets.lake.contract.keys import DatasetId, dataset_of_prefix
from lake_assets.lake.contract.names import validate_branch, validate_repo
from lake_assets.lake.contract.uri import SCHEME
from lake_assets.lake.lake import Lake
from lake_assets.lake.storage.store import Store


@dataclass(frozen=True)
class Version:
    """One data object: the DATE it holds and its size in the store."""

    date: str
    bytes: int


@dataclass(frozen=True)
class DatasetSummary:
    dataset: DatasetId
    versions: tuple[Version, ...]

    @property
    def dates(self) -> list[str]:
        return [v.date for v in self.versions]

    @property
    def newest(self) -> str | None:
        return self.versions[-1].date if self.versions else None

    @property
    def bytes(self) -> int:
        return sum(v.bytes for v in self.versions)


@dataclass(frozen=True)
class Selection:
    """`REPO[/BRANCH]` as typed on a command line (a `gros://` prefix is allowed)."""

    repo: str | None = None
    branch: str | None = None

    @classmethod
    def parse(cls, text: str | None) -> Selection:
        """Split on the first `/` (branches may contain more); validate both names."""
        if not text:
            return cls()
        body = text.removeprefix(SCHEME).rstrip("/")
        repo, sep, branch = body.partition("/")
        validate_repo(repo)
        if sep:
            validate_branch(branch)
            return cls(repo, branch)
        return cls(repo)

    def __str__(self) -> str:
        if self.repo is None:
            return "the whole lake"
        return self.repo if self.branch is None else f"{self.repo}/{self.branch}"


def datasets(lake: Lake, selection: Selection = Selection()) -> list[DatasetId]:
    """The datasets under `asset/` that `selection` names, sorted; UnknownDataset when it
    names a repo or dataset the lake does not hold (the message names the closest it does)."""
    store = lake.store
    if selection.repo is not None and selection.branch is not None:
        ds = DatasetId(selection.repo, selection.branch)
        if not suggest.exists(store, ds):
            raise suggest.unknown_dataset(store, ds)
        return [ds]
    if selection.repo is not None:
        found = [DatasetId(selection.repo, b) for b in suggest.branches(store, selection.repo)]
        if not found:
            raise suggest.unknown_repo(store, selection.repo)
        return found
    return listed_datasets(store)


def listed_datasets(store: Store, tops: tuple[str, ...] = ("asset/",)) -> list[DatasetId]:
    """Every validly named dataset with objects under any of `tops`, sorted, once each."""
    found = set()
    for top in tops:
        for repo_part in store.list_dirs(top):
            for branch_part in store.list_dirs(f"{top}{repo_part}/"):
                if (ds := dataset_of_prefix(repo_part, branch_part)) is not None:
                    found.add(ds)
    return sorted(found)


def summary(lake: Lake, dataset: DatasetId) -> DatasetSummary:
    """Versions and sizes from one listing of the dataset's `data/` prefix."""
    versions = []
    for info in lake.store.list(dataset.data_prefix):
        if (date := dataset.date_of(info.key)) is not None:
            versions.append(Version(date, info.size))
    return DatasetSummary(dataset, tuple(sorted(versions, key=lambda v: v.date)))
