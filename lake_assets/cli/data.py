"""`lake head` and `lake cat`: a version's CSV text, streamed from the store.

`head` decompresses only until it has N records (a record may span lines inside quotes);
`cat` copies the whole text in chunks and checks the sha256 the lake recorded as it goes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import sys
import zlib
from collections.abc import Iterator
from typing import IO, Annotated

import typer

from lake_assets.cli.options import Uri
from lake_assets.cli.session import current_lake
from lake_assets.lake.errors import CorruptObject
from lake_assets.lake.lake import Lake
from lake_assets.lake.refs import GrosRef
from lake_assets.lake.uri import parse_uri

_CHUNK = 1 << 16


def head(
    uri: Uri,
    n: Annotated[int, typer.Option("-n", "--lines", min=0, help="Data rows to show.")] = 10,
) -> None:
    """The header and the first N rows of a version, as CSV."""
    lake = current_lake()
    ref = lake.resolve(parse_uri(uri))
    key = ref.dataset.data_key(ref.date)
    with _text(lake, key) as text:
        for record in _records(text, key, n + 1):
            sys.stdout.write(record)
    sys.stdout.flush()


def cat(uri: Uri) -> None:
    """The whole CSV text of a version, streamed; fails if it does not match its sha256."""
    from lake_assets.lake.codec import decompressing_reader

    lake = current_lake()
    ref = lake.resolve(parse_uri(uri))
    key = ref.dataset.data_key(ref.date)
    digest = hashlib.sha256()
    stream = lake.store.open(key)
    with contextlib.closing(stream):
        raw = _Hashing(stream, digest)
        with _gzip_errors(key), decompressing_reader(raw) as gz:  # type: ignore[arg-type]
            while chunk := gz.read(_CHUNK):
                sys.stdout.buffer.write(chunk)
        while raw.read(_CHUNK):
            pass
    sys.stdout.buffer.flush()
    expected = _recorded_sha256(lake, ref)
    if expected is not None and expected != digest.hexdigest():
        raise CorruptObject(
            f"{key} has sha256 {digest.hexdigest()} but the lake recorded {expected} for "
            f"{ref.version_uri}: the data object changed after it was published"
        )


def _recorded_sha256(lake: Lake, ref: GrosRef) -> str | None:
    """The sha256 the producer recorded: the production record's, else the ref's (`resolve`
    drops a recorded sha256 when the object's size changed, which is what `cat` must catch)."""
    try:
        record = lake.record(ref.dataset, ref.date)
    except CorruptObject:
        record = None
    if record is not None and record.gros_ref.date == ref.date and record.gros_ref.sha256:
        return record.gros_ref.sha256
    return ref.sha256


class _Hashing(io.RawIOBase):
    """A reader that hashes every compressed byte on its way to the decompressor."""

    def __init__(self, inner: IO[bytes], digest: hashlib._Hash) -> None:
        self.inner = inner
        self.digest = digest

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self.inner.read(size)
        self.digest.update(chunk)
        return chunk

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


@contextlib.contextmanager
def _gzip_errors(key: str) -> Iterator[None]:
    try:
        yield
    except (OSError, EOFError, zlib.error) as e:
        if isinstance(e, BrokenPipeError):
            raise
        raise CorruptObject(f"{key} is not a valid gzip file: {e}") from None
    except UnicodeDecodeError as e:
        raise CorruptObject(f"{key} is not UTF-8 text: {e}") from None


@contextlib.contextmanager
def _text(lake: Lake, key: str) -> Iterator[io.TextIOWrapper]:
    from lake_assets.lake.codec import decompressing_reader

    stream = lake.store.open(key)
    with (
        contextlib.closing(stream),
        _gzip_errors(key),
        decompressing_reader(stream) as gz,
        io.TextIOWrapper(gz, encoding="utf-8", newline="") as text,
    ):
        yield text


def _records(text: IO[str], key: str, limit: int) -> Iterator[str]:
    """The first `limit` CSV records as written, newline included. A line break inside a
    quoted field does not end a record: a record ends where its quotes are balanced."""
    count = 0
    pending = ""
    while count < limit:
        line = text.readline()
        if not line:
            break
        pending += line
        if pending.count('"') % 2 == 0:
            yield pending if pending.endswith("\n") else pending + "\n"
            pending = ""
            count += 1
    if pending and count < limit:
        raise CorruptObject(f"{key} ends inside a quoted field")
