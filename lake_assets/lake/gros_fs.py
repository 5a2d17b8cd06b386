"""`gros://` for fsspec, so `pandas.read_csv("gros://repo/branch:tag")` works anywhere the
project is installed: the `fsspec.specs` entry point registers it, no import needed.

Opening a URI reads the version it names once (the read is recorded for lineage by the lake)
and yields its CSV text, checked whole before a reader sees a byte: a corrupt object is a
CorruptObject naming it, never a bare gzip or Unicode error halfway through a parse. `info`
reports the size of that same text, so ranged reads, `read_block` and `blockcache::` agree
with `open`. `storage_options` reach `Lake.open`: `lake_url` (else `LAKE_URL`) and, for S3,
boto3 client arguments such as `endpoint_url`.
"""

from __future__ import annotations

import gzip
import zlib
from typing import Any

from fsspec.spec import AbstractBufferedFile, AbstractFileSystem
from isal import igzip

from lake_assets.lake.contract.errors import CorruptObject, NotFound
from lake_assets.lake.contract.refs import GrosRef
from lake_assets.lake.contract.uri import SCHEME
from lake_assets.lake.lake import Lake


class GrosFileSystem(AbstractFileSystem):
    protocol = "gros"
    root_marker = ""
    cachable = False

    def __init__(self, lake_url: str | None = None, **storage_options: Any) -> None:
        super().__init__(lake_url=lake_url, **storage_options)
        self.lake = Lake.open(lake_url, **storage_options)

    @classmethod
    def _strip_protocol(cls, path: str | list[str]) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        return path[len(SCHEME) :] if path.startswith(SCHEME) else path

    def _text(self, path: str) -> tuple[bytes, GrosRef]:
        try:
            data, ref = self.lake.fetch_uri(SCHEME + self._strip_protocol(path))
        except NotFound as e:
            raise FileNotFoundError(str(e)) from None
        return text_of(data, ref.dataset.data_key(ref.date)), ref

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> GrosFile:
        if "r" not in mode:
            raise NotImplementedError(
                "gros:// is read-only; publish with lake_assets.publish() or `lake publish`"
            )
        text, _ = self._text(path)
        return GrosFile(self, path, text, **kwargs)

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        """The version's details; its size is the CSV text's, as `open` yields it (so this
        reads the version, as `open` would)."""
        text, ref = self._text(path)
        return {"name": self._strip_protocol(path), "size": len(text), "type": "file", "ref": ref}

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        entry = self.info(path)
        return [entry] if detail else [entry["name"]]


class GrosFile(AbstractBufferedFile):
    """The CSV text of one version, already in memory: ranges are slices of it."""

    def __init__(self, fs: GrosFileSystem, path: str, text: bytes, **kwargs: Any) -> None:
        self.text = text
        kwargs.pop("size", None)
        super().__init__(fs, path, mode="rb", size=len(text), **kwargs)

    def _fetch_range(self, start: int, end: int) -> bytes:
        return self.text[start:end]


def text_of(data: bytes | memoryview, key: str) -> bytes:
    """The CSV text of a data object, or CorruptObject naming it: a gzip that does not
    inflate whole (truncated, CRC or length mismatch) or text that is not UTF-8 (spec §2)."""
    try:
        text = igzip.decompress(data)
        text.decode("utf-8")
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise CorruptObject(f"{key} is not a whole gzip stream: {e}") from None
    except UnicodeDecodeError as e:
        raise CorruptObject(f"{key} is not UTF-8 CSV text: {e.reason} at byte {e.start}") from None
    return text
