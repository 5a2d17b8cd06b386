"""moto's S3 server in a process of its own, for benchmarks: in-process, its request handling
would share the measured client's GIL, which a real S3 endpoint never does.

It serves moto's S3 app alone rather than `moto_server`'s dispatcher over all of moto's
services. That dispatcher works out which service each request is for by, among other
things, listing moto's service modules with a `stat` of each, about 180 per request: moto
spends 3.9-4.1 ms of CPU per small GET through it and 2.4 ms through the S3 app alone
(measured). On this 2-core machine that CPU is taken from the client being measured, and
no S3 endpoint spends it there. The S3 app, and the connections and requests the clients
make, are the same.

    python bench/moto_process.py PORT
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_moto() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__)), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("moto's S3 server did not start")


@contextmanager
def moto_endpoint() -> Iterator[str]:
    proc, endpoint = start_moto()
    try:
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(10)


def serve(port: int) -> None:
    from moto.moto_server.werkzeug_app import MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    run_simple(
        "127.0.0.1",
        port,
        create_backend_app("s3"),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    serve(int(sys.argv[1]))
