"""`lake head` and `lake cat`: a version's CSV text, streamed from the store.

`head` decompresses only until it has N records (a record may span lines inside quotes);
`cat` copies the whole text in chunks and checks the sha256 the lake recorded as it goes. Both
refuse what a data object may not be (GROS_SPEC §3: gzip, UTF-8 CSV): a text that is not
UTF-8, a gzip that is cut short or corrupt, an object of 0 bytes (which gzip readers take for
an empty file).
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import io
import sys
import zlib
from collections.abc import Iterator
from typing import IO, Annotated

import typer
from isal import igzip
from isal.igzip_lib import IsalError

from lake_assets.cli.options import Uri
from lake_assets.cli.session import current_lake
from lake_assets.lake.contract.errors import CorruptObject
from lake_assets.lake.contract.refs import GrosRef
from lake_assets.lake.lake import Lake

_CHUNK = 1 << 16


def head(
    uri: Uri,
    n: Annotated[int, typer.Option("-n", "--lines", min=0, help="Data rows to show.")] = 10,
) -> None:
    """The header and the first N rows of a version, as CSV."""
    lake = current_lake()
    _, key = lake.resolve_key(uri)
    with _text(lake, key) as text:
        for record in _records(text, key, n + 1):
            sys.stdout.write(record)
    sys.stdout.flush()


def cat(uri: Uri) -> None:
    """The whole CSV text of a version, streamed; fails if it does not match its sha256."""
    lake = current_lake()
    ref, key = lake.resolve_key(uri)
    digest = hashlib.sha256()
    stream = lake.store.open(key)
    with contextlib.closing(stream):
        raw = _Source(stream, key, digest)
        with _gzip_errors(key), _gunzip(raw) as gz:
            utf8 = _Utf8(key)
            while chunk := gz.read(_CHUNK):
                sys.stdout.buffer.write(utf8.passed(chunk))
            utf8.passed(b"", final=True)
        while raw.read(_CHUNK):
            pass
    sys.stdout.buffer.flush()
    current = key == ref.dataset.data_key(ref.date)
    expected = _recorded_sha256(lake, ref) if current else ref.sha256  # a version: its name
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


class _Utf8:
    """Checks that a text is UTF-8 as it streams by, before any of it is written: passes on
    whole characters only (one may straddle two chunks; its first bytes wait for the next)."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.held = b""
        self.offset = 0

    def passed(self, chunk: bytes, final: bool = False) -> bytes:
        try:
            self.decoder.decode(chunk, final)
        except UnicodeDecodeError as e:  # its offsets count from the held bytes
            raise CorruptObject(
                f"{self.key} is not UTF-8 text, which a data object's CSV must be "
                f"({e.reason} at byte {self.offset + e.start} of the text)"
            ) from None
        text = self.held + chunk if self.held else chunk
        self.held = self.decoder.getstate()[0]
        whole = text[: len(text) - len(self.held)] if self.held else text
        self.offset += len(whole)
        return whole


class _Source(io.RawIOBase):
    """A data object's compressed bytes on their way to the decompressor: hashed when asked,
    and refused when there are none (gzip readers take 0 bytes for an empty file)."""

    def __init__(self, inner: IO[bytes], key: str, digest: hashlib._Hash | None = None) -> None:
        self.inner = inner
        self.key = key
        self.digest = digest
        self.seen = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self.inner.read(size)
        if self.digest is not None:
            self.digest.update(chunk)
        if not chunk and not self.seen and size != 0:
            raise CorruptObject(f"{self.key} is empty (0 bytes), not a gzip file")
        self.seen += len(chunk)
        return chunk

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def _gunzip(raw: io.RawIOBase) -> igzip.GzipFile:
    """isal's gzip reader, as the codec's `decompressing_reader`, without importing the
    codec (pandas and pyarrow would double the command's run time)."""
    return igzip.GzipFile(fileobj=raw, mode="rb")


@contextlib.contextmanager
def _gzip_errors(key: str) -> Iterator[None]:
    try:
        yield
    except (OSError, EOFError, zlib.error, IsalError) as e:
        if isinstance(e, BrokenPipeError):
            raise
        raise CorruptObject(f"{key} is not a valid gzip file: {e}") from None
    except UnicodeDecodeError as e:
        raise CorruptObject(
            f"{key} is not UTF-8 text, which a data object's CSV must be ({e.reason})"
        ) from None


@contextlib.contextmanager
def _text(lake: Lake, key: str) -> Iterator[io.TextIOWrapper]:
    stream = lake.store.open(key)
    with (
        contextlib.closing(stream),
        _gzip_errors(key),
        _gunzip(_Source(stream, key)) as gz,
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
