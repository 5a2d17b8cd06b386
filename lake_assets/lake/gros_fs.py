"""`gros://` for fsspec, so `pandas.read_csv("gros://repo/branch:tag")` works anywhere the
project is installed: the `fsspec.specs` entry point registers it, no import needed.

Opening a URI resolves it, reads the data object once, records the read for lineage and
returns the decompressed CSV text, so pandas needs no compression hint from the name.
`storage_options` reach the store: `lake_url` (else `LAKE_URL`) and, for S3, boto3 client
arguments such as `endpoint_url`.
"""

from __future__ import annotations

import io
from typing import Any

from fsspec.spec import AbstractFileSystem

from lake_assets.lake import codec
from lake_assets.lake.api import lake_for
from lake_assets.lake.errors import NotFound
from lake_assets.lake.uri import SCHEME


class GrosFileSystem(AbstractFileSystem):
    protocol = "gros"
    root_marker = ""
    cachable = False

    def __init__(self, lake_url: str | None = None, **storage_options: Any) -> None:
        super().__init__(lake_url=lake_url, **storage_options)
        self.lake = lake_for(lake_url, **storage_options)

    @classmethod
    def _strip_protocol(cls, path: str | list[str]) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        return path[len(SCHEME) :] if path.startswith(SCHEME) else path

    def _uri(self, path: str) -> str:
        return SCHEME + self._strip_protocol(path)

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> io.BufferedIOBase:
        if "r" not in mode:
            raise NotImplementedError(
                "gros:// is read-only; publish with lake_assets.publish() or `lake publish`"
            )
        try:
            data, ref = self.lake.fetch_uri(self._uri(path))
        except NotFound as e:
            raise _not_found(e) from None
        text = codec.decompressing_reader(io.BytesIO(data))
        from lake_assets.lake import lineage

        lineage.record(ref, self._uri(path))
        return text

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            ref = self.lake.resolve(self._uri(path))
        except NotFound as e:
            raise _not_found(e) from None
        return {"name": self._strip_protocol(path), "size": ref.bytes, "type": "file", "ref": ref}

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        entry = self.info(path)
        return [entry] if detail else [entry["name"]]


def _not_found(e: NotFound) -> FileNotFoundError:
    """A plain FileNotFoundError, as fsspec users expect, raised from here with the lake's
    message: the lake's own frames and classes say nothing to someone who misspelled a name
    or a date (the Python API raises UnknownDataset or MissingDate)."""
    return FileNotFoundError(str(e))
