"""A TCP proxy a test can take down and bring back: an outage of the endpoint behind it, as
the processes connecting through it see one (connections refused, open ones reset), while
the test itself still reaches the endpoint directly."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `target` until `down()`, and again after `up()`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._closed = False
        self.port = self._listen(0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def down(self) -> None:
        """Stop listening (new connections are refused) and reset every open connection."""
        with self._lock:
            listener, self._listener = self._listener, None
            conns, self._open = self._open, set()
        if listener is not None:
            _close(listener)
        for conn in conns:
            _reset(conn)

    def up(self) -> None:
        """Listen again on the same port."""
        with self._lock:
            if self._listener is not None or self._closed:
                return
        self._listen(self.port)

    def close(self) -> None:
        self._closed = True
        self.down()

    def _listen(self, port: int) -> int:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return listener.getsockname()[1]

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # taken down
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                if self._listener is not listener:  # taken down meanwhile
                    _reset(client)
                    _reset(upstream)
                    return
                self._open.update((client, upstream))
            done = threading.Barrier(2, action=lambda c=client, u=upstream: self._end(c, u))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst, done), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, done: threading.Barrier) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            _reset(dst)  # one side failed or was reset: the other sees it too
        with contextlib.suppress(threading.BrokenBarrierError):
            done.wait()

    def _end(self, client: socket.socket, upstream: socket.socket) -> None:
        with self._lock:
            self._open.discard(client)
            self._open.discard(upstream)
        _close(client)
        _close(upstream)


def _reset(conn: socket.socket) -> None:
    """Close with an RST, as a crashed server's connections end."""
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    _close(conn)


def _close(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        conn.close()


@contextlib.contextmanager
def tcp_proxy(endpoint: str) -> Iterator[TcpProxy]:
    """A proxy in front of `endpoint` (http://host:port), closed when the block ends."""
    hostport = endpoint.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    proxy = TcpProxy(host, int(port))
    try:
        yield proxy
    finally:
        proxy.close()
