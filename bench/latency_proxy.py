"""A TCP proxy that adds network round-trip time, for benchmarks against a local S3 server.

moto answers on loopback in about 5 ms of its own CPU per request, with no network latency
at all, while a GET from real S3 is mostly waiting on the network. Behind this proxy, each
turn of a connection's conversation (request out, response back) waits half the round trip,
so concurrent requests overlap as they would against S3. It runs in its own process:

    python bench/latency_proxy.py UPSTREAM_PORT RTT_MS   (prints the port it listens on)
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


async def _pipe(
    src: asyncio.StreamReader, dst: asyncio.StreamWriter, way: str, turns: _Turns, delay: float
) -> None:
    try:
        while data := await src.read(1 << 16):
            if turns.last != way:
                turns.last = way
                await asyncio.sleep(delay)
            dst.write(data)
            await dst.drain()
    except ConnectionError:
        pass
    finally:
        dst.close()


async def _serve(upstream_port: int, rtt_ms: float) -> None:
    delay = rtt_ms / 2000

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        turns = _Turns()
        await asyncio.gather(
            _pipe(reader, up_writer, "out", turns, delay),
            _pipe(up_reader, writer, "back", turns, delay),
        )

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


@contextmanager
def latency_endpoint(upstream: str, rtt_ms: float) -> Iterator[str]:
    """An endpoint URL that reaches `upstream` (http://127.0.0.1:PORT) with `rtt_ms` added."""
    port = upstream.rsplit(":", 1)[1]
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__)), port, str(rtt_ms)],
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
    asyncio.run(_serve(int(sys.argv[1]), float(sys.argv[2])))
