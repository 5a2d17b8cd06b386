"""The object store under the lake root: the few operations the protocol needs, with
conditional writes so the `latest` pointer can be moved without losing a racing writer."""

from __future__ import annotations

import abc
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlparse

from lake_assets.lake.contract.errors import LakeError, NotFound


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    modified: float | None = None
    """Last-modified time (epoch seconds) where a listing gives it: a sweep of a dataset's
    dates reads only the ones written since its last pass."""


class Store(abc.ABC):
    """A flat key space of immutable-until-replaced objects; every write is atomic."""

    url: str
    remote: bool = False
    """Whether each request waits on a network: then overlapping requests pays, while on a
    local disk the hand-off to another thread costs more than the request itself."""

    @abc.abstractmethod
    def get_if_changed(self, key: str, etag: str | None) -> tuple[bytes, ObjectInfo] | bool | None:
        """One request: False when the object is still at version `etag`, None when it does
        not exist, else its bytes and version token (to pass to `put_if`). With `etag` None,
        a plain GET; lets a watcher poll many pointers cheaply."""

    def get(self, key: str) -> bytes:
        """The whole object; NotFound when it does not exist."""
        got = self.get_if_changed(key, None)
        if not isinstance(got, tuple):
            raise self.absent(key)
        return got[0]

    @abc.abstractmethod
    def open_with_info(self, key: str) -> tuple[IO[bytes], ObjectInfo] | None:
        """A streaming reader of the object and its size and version token, or None when
        absent: a large object can be decoded while the rest of it arrives."""

    def open(self, key: str) -> IO[bytes]:
        """A streaming reader, for callers that need only the head of an object."""
        got = self.open_with_info(key)
        if got is None:
            raise self.absent(key)
        return got[0]

    def absent(self, key: str) -> NotFound:
        """The error for a key with no object, the same from every store and method."""
        return NotFound(f"{key} does not exist in {self.url}")

    @abc.abstractmethod
    def head(self, key: str) -> ObjectInfo | None: ...

    @abc.abstractmethod
    def put(self, key: str, data: bytes) -> str:
        """Write the whole object; readers see the old object or the new one, never a part.
        Returns the new object's version token, as `get_if_changed` and `head` report it."""

    @abc.abstractmethod
    def put_if(self, key: str, data: bytes, *, etag: str | None) -> str | None:
        """Write only if the object is still at version `etag` (None: only if it does not
        exist). Returns the new version token, or None, writing nothing, when another writer
        got there first."""

    @abc.abstractmethod
    def copy(self, src: str, dst: str, *, etag: str) -> bool:
        """Copy `src` to `dst` (on S3 server-side: no bytes through this process) if `src` is
        still at version `etag`; False, copying nothing, when it is not or is gone."""

    @abc.abstractmethod
    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with `prefix`, at any depth."""

    @abc.abstractmethod
    def list_dirs(self, prefix: str) -> list[str]:
        """The names of the immediate 'directories' under `prefix` (which ends with '/')."""

    @abc.abstractmethod
    def delete(self, key: str) -> None: ...

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete every key (absent ones are no error), in as few requests as the store
        allows; raises naming the keys it could not delete."""
        for key in keys:
            self.delete(key)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


def default_lake_dir() -> Path:
    """The embedded lake when `LAKE_URL` is unset: one place per user, whatever the working
    directory, so the web server, daemon, run workers and notebooks all see the same lake."""
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return Path(data_home) / "lake_assets" / "lake"


def lake_url() -> str:
    return os.environ.get("LAKE_URL") or str(default_lake_dir())


def open_store(url: str | None = None, **storage_options: object) -> Store:
    """The store for a lake root: `s3://BUCKET[/PREFIX]`, `file:///ABS/PATH` or a path."""
    url = url or lake_url()
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        from lake_assets.lake.storage.s3 import S3Store

        if not parsed.netloc:
            raise LakeError(f"invalid lake URL {url!r}: s3:// needs a bucket")
        return S3Store(parsed.netloc, parsed.path.strip("/"), **storage_options)
    from lake_assets.lake.storage.local import LocalStore

    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise LakeError(f"invalid lake URL {url!r}: file:// URLs name a local absolute path")
        return LocalStore(Path(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:
        raise LakeError(
            f"unsupported lake URL {url!r}: use s3://BUCKET[/PREFIX], file:///ABS/PATH or a path"
        )
    return LocalStore(Path(url).expanduser())
