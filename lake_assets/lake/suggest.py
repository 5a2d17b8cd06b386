"""What to tell someone who names a dataset the lake does not hold: the closest repos, or the
repo's branches. Asked only once something is already missing (no `latest`, no data object),
so a read that finds its data never pays for these listings."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import unquote

from lake_assets.lake.contract.errors import UnknownDataset
from lake_assets.lake.contract.keys import DatasetId, dataset_of_prefix
from lake_assets.lake.contract.names import quote_name, validate_repo
from lake_assets.lake.storage.store import Store

SHOWN_NAMES = 10
"""Names listed in a message at most; a lake with hundreds of branches gets `and N more`."""
_CLOSE = 0.6


def exists(store: Store, dataset: DatasetId) -> bool:
    """Whether the lake holds any object under the dataset's `asset/` prefix (one listing)."""
    return bool(store.list_dirs(dataset.asset_prefix))


def repos(store: Store) -> list[str]:
    """The repos with something under `asset/`, sorted; names that break spec §2 skipped."""
    found = []
    for part in store.list_dirs("asset/"):
        try:
            found.append(validate_repo(unquote(part)))
        except ValueError:
            continue
    return sorted(found)


def branches(store: Store, repo: str) -> list[str]:
    """The branches of `repo` with something under `asset/`, sorted."""
    quoted = quote_name(repo)
    found = (dataset_of_prefix(quoted, part) for part in store.list_dirs(f"asset/{quoted}/"))
    return sorted(ds.branch for ds in found if ds is not None)


def unknown_dataset(store: Store, dataset: DatasetId) -> UnknownDataset:
    """The error for a dataset the lake does not hold: its repo's branches when the repo
    exists (the closest first), else the closest repos."""
    what = f"dataset {dataset} does not exist in {store.url}"
    found = branches(store, dataset.repo)
    if not found:
        return unknown_repo(store, dataset.repo, what)
    close = [f"{dataset.repo}/{b}" for b in closest(dataset.branch, found)]
    hint = f"; did you mean {_either(close)}?" if close else ""
    return UnknownDataset(f"{what}; branches of {dataset.repo}: {_some(found)}{hint}")


def unknown_repo(store: Store, repo: str, what: str | None = None) -> UnknownDataset:
    """The error for a repo the lake does not hold, naming the closest repos it does."""
    what = what or f"repo {repo!r} has no datasets in {store.url}"
    found = repos(store)
    if close := closest(repo, found):
        return UnknownDataset(f"{what}; did you mean {_either(close)}?")
    if not found:
        return UnknownDataset(f"{what}; the lake holds no datasets")
    return UnknownDataset(f"{what}; its repos: {_some(found)}")


def closest(name: str, names: Sequence[str], n: int = 3) -> list[str]:
    """The names most like `name`, best first, ignoring case (`NYC_flights` finds
    `nyc_flights`)."""
    from difflib import get_close_matches  # only once a name is already missing: startup

    lowered: dict[str, str] = {}
    for candidate in names:
        lowered.setdefault(candidate.lower(), candidate)
    return [lowered[m] for m in get_close_matches(name.lower(), list(lowered), n, _CLOSE)]


def _some(names: Sequence[str]) -> str:
    shown = ", ".join(names[:SHOWN_NAMES])
    rest = len(names) - SHOWN_NAMES
    return f"{shown} and {rest} more" if rest > 0 else shown


def _either(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
