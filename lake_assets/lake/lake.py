"""The lake: one root's versions, read and published, opened the same way by every route."""

from __future__ import annotations

import functools
import os
from typing import Any

from lake_assets.lake.publishing import Publishing
from lake_assets.lake.reading import Reading
from lake_assets.lake.storage.store import lake_url, open_store

_ENDPOINT_VARS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")


@functools.lru_cache(maxsize=32)
def _opened(cls: type[Lake], url: str, options: tuple[tuple[str, Any], ...], _env: object) -> Lake:
    return cls(open_store(url, **dict(options)))


class Lake(Reading, Publishing):
    """One lake root: what it holds (`Versions`), reading (`Reading`), publishing
    (`Publishing`)."""

    @classmethod
    def open(cls, url: str | None = None, **storage_options: Any) -> Lake:
        """The lake at `url` (else `LAKE_URL`, else the embedded default): the one way every
        route (Python API, `gros://`, CLI, Dagster resource and sensor) opens it. One per
        process, lake URL, options and AWS endpoint variables, so reads in one step share a
        client, its connections and what the lake remembers of `latest` pointers."""
        url = url or lake_url()
        if "://" not in url:  # a path: the same path names another lake after a chdir
            url = os.path.abspath(os.path.expanduser(url))
        endpoints = tuple(os.environ.get(v) for v in _ENDPOINT_VARS)
        try:
            return _opened(cls, url, tuple(sorted(storage_options.items())), endpoints)
        except TypeError:  # unhashable options (a botocore Config, say): not shared
            return cls(open_store(url, **storage_options))

    def __repr__(self) -> str:
        return f"Lake({self.store.url!r})"
