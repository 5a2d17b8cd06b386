"""An object's bytes while they arrive from the store, so a reader can start on the first
ones before the last are in: a large GET from S3 then overlaps with decoding instead of
coming before it."""

from __future__ import annotations

import threading
from typing import IO

from lake_assets.lake.contract.errors import LakeError, StoreUnavailable

CHUNK = 1 << 20
"""Bytes per read from the stream: each wakes the waiting decoders once."""


class Arriving:
    """A buffer of known size filled from a stream, front to back, by one thread; readers
    wait for the prefix they need. A failed or short stream wakes every waiter with the
    error, so none waits forever."""

    def __init__(self, size: int, key: str, data: bytes | memoryview | None = None) -> None:
        """`data`, when given, is the whole object already in memory (used without a copy);
        else an empty buffer of `size` bytes awaits `fill`."""
        import numpy as np  # here, so that importing the lake for `lake ls` does not load it

        self.size = size
        self.key = key
        # Uninitialized: a bytearray would zero the whole object first (about 10 ms for
        # 25 MB, in the reader's thread); these pages are touched only as the filling
        # thread writes them.
        self._view = memoryview(np.empty(size, dtype=np.uint8) if data is None else data)
        self._filled = 0 if data is None else size
        self._error: BaseException | None = None
        self._changed = threading.Condition()

    @classmethod
    def complete(cls, data: bytes | memoryview, key: str) -> Arriving:
        """Bytes already in memory, without a copy."""
        return cls(len(data), key, data)

    @classmethod
    def read_all(cls, stream: IO[bytes], size: int, key: str) -> Arriving:
        """The whole object read now, in the caller's thread: for small objects and local
        files, where a hand-off to a filling thread costs more than it overlaps."""
        try:
            with stream:
                data = stream.read()
        except LakeError:
            raise
        except Exception as e:
            raise _failed(key, e) from None
        if len(data) != size:
            raise StoreUnavailable(f"{key}: the store sent {len(data)} of {size} bytes")
        return cls.complete(data, key)

    def fill(self, stream: IO[bytes]) -> None:
        """Read the whole object from `stream` (closed afterwards); errors reach the waiters."""
        try:
            with stream:
                while self._filled < self.size:
                    end = min(self._filled + CHUNK, self.size)
                    n = stream.readinto(self._view[self._filled : end])  # type: ignore[attr-defined]
                    if not n:
                        raise StoreUnavailable(
                            f"{self.key}: the store sent {self._filled} of {self.size} bytes"
                        )
                    with self._changed:
                        self._filled += n
                        self._changed.notify_all()
        except BaseException as e:
            with self._changed:
                self._error = e if isinstance(e, LakeError) else _failed(self.key, e)
                self._changed.notify_all()
            if not isinstance(e, Exception):
                raise

    def upto(self, end: int) -> memoryview:
        """The first `end` bytes (at most the object), once they are in."""
        end = min(end, self.size)
        if self._filled < end:
            with self._changed:
                while self._filled < end and self._error is None:
                    self._changed.wait()
        if self._filled < end:
            assert self._error is not None
            raise self._error
        return self._view[:end]

    def whole(self) -> memoryview:
        return self.upto(self.size)


def _failed(key: str, e: BaseException) -> StoreUnavailable:
    return StoreUnavailable(f"{key}: reading it failed: {type(e).__name__}: {e}")
