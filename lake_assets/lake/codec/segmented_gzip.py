"""Gzip objects that several cores can inflate at once, and that every gzip reader still reads.

The object is one ordinary gzip member (RFC 1952). Its deflate stream is a series of segments,
each compressed on its own and ended by a sync flush, so each starts on a byte boundary with
no back-reference into the one before. Segments end at row boundaries of the CSV. The header's
FEXTRA field holds a subfield `LK` indexing them: for each segment, its compressed length,
its text length and the CRC-32 of its text. dictzip indexes its chunks the same way.

Other readers skip FEXTRA and inflate one stream, zlib's single-member API included. Our
reader inflates and parses the segments in parallel, each checked against its own CRC-32.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass

from isal import isal_zlib

SUBFIELD = b"LK"
_ENTRY = struct.Struct("<III")
"""Compressed length, text length and CRC-32 of the text of one segment."""
MAX_SEGMENTS = (0xFFFF - 4) // _ENTRY.size
"""The index must fit the 64 KiB FEXTRA field; an object with more segments is written
without one (still one valid member, inflated serially)."""
_MAGIC = b"\x1f\x8b\x08"
_FEXTRA = 0x04
_OS_UNKNOWN = 0xFF
_FIXED_HEADER = 10
_TRAILER = 8
_END = b"\x03\x00"
"""An empty final block with fixed codes: ends the stream after the last segment."""


@dataclass(frozen=True)
class Segment:
    start: int
    end: int
    size: int
    crc: int


class BadSegment(ValueError):
    """A segment that does not inflate to the text its index entry describes."""


def _deflate_segment(text: bytes, level: int) -> bytes:
    c = isal_zlib.compressobj(level, isal_zlib.DEFLATED, -15)
    return c.compress(text) + c.flush(isal_zlib.Z_SYNC_FLUSH)


def compress(texts: Iterable[bytes], level: int, pool: Executor) -> bytes:
    """One gzip member holding the concatenation of `texts`, one segment each. Segments are
    deflated in `pool` while the caller produces the next text; an empty final block ends the
    stream, so the last segment needs no special case."""
    futures = []
    index = []
    crc = size = 0
    for text in texts:
        if not text:
            continue
        futures.append(pool.submit(_deflate_segment, text, level))
        part = isal_zlib.crc32(text)
        index.append((len(text), part))
        crc = isal_zlib.crc32(text, crc)
        size += len(text)
    bodies = [f.result() for f in futures]
    extra = b""
    flags = 0
    if len(bodies) <= MAX_SEGMENTS:
        entries = b"".join(
            _ENTRY.pack(len(body), n, part) for body, (n, part) in zip(bodies, index, strict=True)
        )
        sub = SUBFIELD + struct.pack("<H", len(entries)) + entries
        extra = struct.pack("<H", len(sub)) + sub
        flags = _FEXTRA
    header = _MAGIC + bytes([flags]) + b"\0\0\0\0" + bytes([0, _OS_UNKNOWN]) + extra
    trailer = struct.pack("<II", crc, size & 0xFFFFFFFF)
    return b"".join([header, *bodies, _END, trailer])


def segments(data: bytes | memoryview) -> list[Segment] | None:
    """The index of an object this module wrote, checked to tile its deflate stream exactly;
    None for any other gzip (a foreign producer's, or an older one of ours)."""
    found = index(lambda n: memoryview(data)[:n], len(data))
    return found if found is not None and ends_well(data, found) else None


def index(upto: Callable[[int], bytes | memoryview], total: int) -> list[Segment] | None:
    """The index from the header alone, given `upto(n)`, the first n bytes of an object of
    `total` bytes (which may still be arriving): checked to tile the deflate stream up to
    the end block and trailer, which `ends_well` checks once they are in."""
    head = upto(_FIXED_HEADER + 2)
    if total < _FIXED_HEADER + 2 or head[:3] != _MAGIC or head[3] != _FEXTRA:
        return None
    (xlen,) = struct.unpack_from("<H", head, _FIXED_HEADER)
    entries = _subfield(bytes(upto(_FIXED_HEADER + 2 + xlen)[_FIXED_HEADER + 2 :]))
    if entries is None or len(entries) % _ENTRY.size:
        return None
    pos = _FIXED_HEADER + 2 + xlen
    found = []
    for clen, size, crc in _ENTRY.iter_unpack(entries):
        found.append(Segment(pos, pos + clen, size, crc))
        pos += clen
    return found if total - pos == len(_END) + _TRAILER else None


def ends_well(data: bytes | memoryview, found: list[Segment]) -> bool:
    """Whether the stream ends, after the last segment, with the end block this module
    writes (the trailer follows it)."""
    pos = found[-1].end if found else len(data) - len(_END) - _TRAILER
    return bytes(data[pos : pos + len(_END)]) == _END


def _subfield(extra: bytes) -> bytes | None:
    pos = 0
    while pos + 4 <= len(extra):
        (n,) = struct.unpack_from("<H", extra, pos + 2)
        if extra[pos : pos + 2] == SUBFIELD:
            return extra[pos + 4 : pos + 4 + n] if pos + 4 + n <= len(extra) else None
        pos += 4 + n
    return None


def inflate(data: bytes | memoryview, seg: Segment) -> bytes:
    """The text of one segment, checked against its length and CRC-32 (releases the GIL).

    The segment is ended with the end block, so one call inflates it into a buffer of the
    recorded size, where a stream decompressor would grow its output by copies."""
    try:
        text = isal_zlib.decompress(b"".join((data[seg.start : seg.end], _END)), -15, seg.size + 1)
    except isal_zlib.error as e:  # isal's IsalError
        raise BadSegment(f"segment at byte {seg.start} does not inflate: {e}") from None
    if len(text) != seg.size or isal_zlib.crc32(text) != seg.crc:
        raise BadSegment(f"segment at byte {seg.start} fails its length or CRC-32 check")
    return text


def first_line(data: bytes | memoryview, seg: Segment, step: int = 64 << 10) -> bytes:
    """The first line of a segment's text, inflating no more of it than needed."""
    d = isal_zlib.decompressobj(-15)
    got = b""
    pending: bytes | memoryview = memoryview(data)[seg.start : seg.end]  # no copy
    while b"\n" not in got and len(got) < seg.size:
        chunk = d.decompress(pending, step)
        if not chunk:
            break
        got += chunk
        pending = d.unconsumed_tail
    return got.split(b"\n", 1)[0]
