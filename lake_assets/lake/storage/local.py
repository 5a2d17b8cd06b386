"""A lake in a local directory: atomic renames for writes, a directory lock for `put_if`."""

from __future__ import annotations

import contextlib
import fcntl
import os
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from lake_assets.lake.contract.errors import LakeError
from lake_assets.lake.storage.store import ObjectInfo, Store


class LocalStore(Store):
    def __init__(self, root: Path) -> None:
        self.root = root.absolute()
        self.url = str(self.root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).absolute()
        if (
            not key
            or key.startswith("/")
            or ".." in key.split("/")
            or self.root not in path.parents
        ):
            raise LakeError(f"key {key!r} escapes the lake root {self.root}")
        return path

    @staticmethod
    def _info(key: str, st: os.stat_result) -> ObjectInfo:
        etag = f"{st.st_ino}-{st.st_mtime_ns}-{st.st_size}"
        return ObjectInfo(key, st.st_size, etag, st.st_mtime)

    def open_with_info(self, key: str) -> tuple[IO[bytes], ObjectInfo] | None:
        try:
            f = self._path(key).open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        return f, self._info(key, os.fstat(f.fileno()))

    def get_if_changed(self, key: str, etag: str | None) -> tuple[bytes, ObjectInfo] | bool | None:
        got = self.open_with_info(key)
        if got is None:
            return None
        stream, info = got
        with stream:
            return False if info.etag == etag else (stream.read(), info)

    def head(self, key: str) -> ObjectInfo | None:
        try:
            st = self._path(key).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return self._info(key, st) if not os.path.isdir(self._path(key)) else None

    def put(self, key: str, data: bytes) -> str:
        """Written to a new file renamed into place: every write is a new inode, so the
        version token (inode, mtime, size) of a replaced object never comes back."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with tmp.open("wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
                info = self._info(key, os.fstat(f.fileno()))
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return info.etag

    def put_if(self, key: str, data: bytes, *, etag: str | None) -> str | None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(path.parent):
            current = self.head(key)
            if (current.etag if current else None) != etag:
                return None
            return self.put(key, data)

    def copy(self, src: str, dst: str, *, etag: str) -> bool:
        """The bytes of the very inode at version `etag`: a replace makes a new inode, so
        the open file cannot change under the copy."""
        got = self.open_with_info(src)
        if got is None:
            return False
        stream, info = got
        with stream:
            if info.etag != etag:
                return False
            self.put(dst, stream.read())
        return True

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        base, _, _ = prefix.rpartition("/")
        start = self._path(base) if base else self.root
        if not start.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for name in sorted(filenames):
                key = name if rel == "." else f"{rel}/{name}"
                if name.startswith(".") or not key.startswith(prefix):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    yield self._info(key, os.stat(os.path.join(dirpath, name)))

    def list_dirs(self, prefix: str) -> list[str]:
        start = self._path(prefix.rstrip("/")) if prefix.strip("/") else self.root
        try:
            entries = list(os.scandir(start))
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_many(self, keys: Iterable[str]) -> None:
        """Unlink each, then remove the directories left empty (never the root)."""
        parents = set()
        for key in keys:
            path = self._path(key)
            path.unlink(missing_ok=True)
            parents.add(path.parent)
        for directory in sorted(parents, key=lambda p: len(p.parts), reverse=True):
            while directory != self.root and self.root in directory.parents:
                try:
                    directory.rmdir()
                except OSError:  # not empty (or gone): its parents are not empty either
                    break
                directory = directory.parent


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """An exclusive flock on the directory itself: no lock file appears among the objects."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
