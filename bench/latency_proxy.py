"""A TCP proxy that adds network round-trip time, for benchmarks against a local S3 server.

moto answers on loopback in about 5 ms of its own CPU per request, with no network latency
at all, while a GET from real S3 is mostly waiting on the network. Behind this proxy, each
turn of a connection's conversation (request out, response back) waits half the round trip,
so concurrent requests overlap as they would against S3. With MBPS, each direction of each
connection is also held to MBPS megabytes (10**6 bytes) a second, as one connection to S3
is (about 100 MB/s for a large GET), so a 25 MB object takes a quarter second to arrive
instead of the few milliseconds loopback takes. It runs in its own process:

    python bench/latency_proxy.py UPSTREAM_PORT RTT_MS [MBPS]   (prints the port it listens on)
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class _Turns:
    """Which way the conversation went last: a change of direction costs half the RTT."""

    def __init__(self) -> None:
        self.last = ""


CHUNK = 1 << 18
"""Bytes moved per read: fewer turns of the event loop per megabyte (64 KiB chunks held
the proxy itself to about 120 MB/s on a busy 2-core machine)."""
BURST = 0.005
"""Seconds of sending a direction may bank while idle or oversleeping. The event loop's
sleeps are rounded up to whole milliseconds (epoll) and a busy machine wakes it later
still; without some credit every late wake-up would be lost and the cap would come out
well under what it says. 5 ms is 500 KB at 100 MB/s, 2% of a 25 MB object."""


class _Link:
    """One direction of one connection at `mbps` megabytes a second (None: no cap): each
    chunk leaves once the link has had the time to send the ones before it and itself."""

    def __init__(self, mbps: float | None) -> None:
        self.seconds_per_byte = 1 / (mbps * 1e6) if mbps else 0.0
        self.free_at = 0.0

    async def send(self, size: int) -> None:
        if not self.seconds_per_byte:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        self.free_at = max(self.free_at, now - BURST) + size * self.seconds_per_byte
        if self.free_at > now:
            await asyncio.sleep(self.free_at - now)


async def _pipe(
    src: asyncio.StreamReader,
    dst: asyncio.StreamWriter,
    way: str,
    turns: _Turns,
    delay: float,
    link: _Link,
) -> None:
    try:
        while data := await src.read(CHUNK):
            if turns.last != way:
                turns.last = way
                await asyncio.sleep(delay)
            await link.send(len(data))
            dst.write(data)
            await dst.drain()
    except ConnectionError:
        pass
    finally:
        dst.close()


async def _serve(upstream_port: int, rtt_ms: float, mbps: float | None = None) -> None:
    delay = rtt_ms / 2000

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(
            "127.0.0.1", upstream_port, limit=CHUNK
        )
        turns = _Turns()
        await asyncio.gather(
            _pipe(reader, up_writer, "out", turns, delay, _Link(mbps)),
            _pipe(up_reader, writer, "back", turns, delay, _Link(mbps)),
        )

    server = await asyncio.start_server(handle, "127.0.0.1", 0, limit=CHUNK)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


@contextmanager
def latency_endpoint(upstream: str, rtt_ms: float, mbps: float | None = None) -> Iterator[str]:
    """An endpoint URL that reaches `upstream` (http://127.0.0.1:PORT) with `rtt_ms` added
    and, with `mbps`, each direction of each connection capped at that many MB/s."""
    port = upstream.rsplit(":", 1)[1]
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__)), port, str(rtt_ms), *([str(mbps)] if mbps else [])],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield f"http://127.0.0.1:{int(proc.stdout.readline())}"
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    asyncio.run(
        _serve(int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]) if sys.argv[3:] else None)
    )
