"""moto's S3 server in a process of its own, for benchmarks: in-process, its request handling
would share the measured client's GIL, which a real S3 endpoint never does.

It serves moto's S3 app alone rather than `moto_server`'s dispatcher over all of moto's
services. That dispatcher works out which service each request is for by, among other
things, listing moto's service modules with a `stat` of each, about 180 per request: moto
spends 3.9-4.1 ms of CPU per small GET through it and 2.4 ms through the S3 app alone
(measured). On this 2-core machine that CPU is taken from the client being measured, and
no S3 endpoint spends it there. The S3 app, and the connections and requests the clients
make, are the same.

Two more departures, for benchmarks with many objects:

- A listing with a prefix reads only the keys under it (a sorted index of the bucket's key
  names, rebuilt when a key is added or removed), as S3 does. moto's own listing copies and
  scans every key of the bucket: with 300,000 objects one `data/` listing of 30 keys cost
  moto about 0.3 s of CPU, which S3 never spends.
- `POST /__bench__/seed` with a JSON body `{"bucket": B, "objects": [[key, text,
  modified], ...]}` stores the objects straight into moto's backend, with their last-modified
  times (epoch seconds, or null for now): 300,000 objects in seconds where as many PUTs take
  15 minutes. The bucket must exist.

    python bench/moto_process.py PORT
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def use_fake_credentials() -> None:
    """Credentials for moto (any are accepted), and no instance-metadata lookups by botocore."""
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    )


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


def seed_objects(endpoint: str, bucket: str, objects: list[tuple[str, str, float | None]]) -> int:
    """Store `objects` (key, text, last-modified epoch or None) in a moto started here."""
    import urllib.request

    stored = 0
    for start in range(0, len(objects), 20_000):
        body = json.dumps({"bucket": bucket, "objects": objects[start : start + 20_000]})
        request = urllib.request.Request(
            f"{endpoint}{SEED_PATH}", data=body.encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=600) as answer:
            stored += int(answer.read())
    return stored


SEED_PATH = "/__bench__/seed"


def _index_listings() -> None:
    """moto's listing with a prefix reads only the keys under it, from a sorted index."""
    from moto.s3.models import FakeTableStorageBucket, S3Backend
    from moto.s3.utils import _VersionedKeyStore

    original = S3Backend.list_objects
    lock = threading.Lock()

    def changes(name: str) -> Callable[..., Any]:
        method = getattr(_VersionedKeyStore, name)

        def changed(self: Any, key: str, *args: Any) -> Any:
            with lock:
                if not dict.__contains__(self, key) or name in ("pop", "__delitem__"):
                    self.__dict__.pop("bench_names", None)
                return method(self, key, *args)

        return changed

    for name in ("__setitem__", "setlist", "pop", "__delitem__"):
        setattr(_VersionedKeyStore, name, changes(name))

    class Narrowed:
        def __init__(self, pairs: list[tuple[str, Any]]) -> None:
            self.keys = self
            self.pairs = pairs

        def items(self) -> list[tuple[str, Any]]:
            return self.pairs

    def list_objects(self: Any, bucket: Any, prefix: str | None, *args: Any, **kw: Any) -> Any:
        if not prefix or isinstance(bucket, FakeTableStorageBucket):
            return original(self, bucket, prefix, *args, **kw)
        store = bucket.keys
        with lock:
            names = store.__dict__.get("bench_names")
            if names is None:
                names = store.__dict__["bench_names"] = sorted(dict.keys(store))
        low = bisect.bisect_left(names, prefix)
        high = bisect.bisect_left(names, prefix + "\U0010ffff", low)
        pairs = [(n, store[n]) for n in names[low:high] if dict.__contains__(store, n)]
        return original(self, Narrowed(pairs), prefix, *args, **kw)

    S3Backend.list_objects = list_objects


def _with_seeding(app: Any) -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    def seeding(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") != SEED_PATH or environ.get("REQUEST_METHOD") != "POST":
            return app(environ, start_response)
        spec = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
        backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        for key, text, modified in spec["objects"]:
            stored = backend.put_object(
                spec["bucket"], key, text.encode(), disable_notification=True
            )
            if modified is not None:
                stored.last_modified = dt.datetime.fromtimestamp(modified, dt.UTC).replace(
                    tzinfo=None
                )
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(len(spec["objects"])).encode()]

    return seeding


def serve(port: int) -> None:
    from moto.moto_server.werkzeug_app import MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    _index_listings()
    run_simple(
        "127.0.0.1",
        port,
        _with_seeding(create_backend_app("s3")),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    serve(int(sys.argv[1]))
