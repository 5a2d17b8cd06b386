"""One background thread per process sends events through the standard OpenLineage client,
so a publish only builds and queues them; a receiver that fails is logged and counted."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

from openlineage.client import OpenLineageClient
from openlineage.client.serde import Serde

log = logging.getLogger("lake_assets.openlineage")

_QUEUE_SIZE = 10_000
_counts = {"sent": 0, "failed": 0, "dropped": 0}
"""For the whole process, across senders (a change of configuration makes a new one)."""


class Sender:
    """Queues events for one client; `flush` waits for the queue to drain."""

    def __init__(self, client: OpenLineageClient, exit_timeout: float) -> None:
        self.client = client
        self._queue: queue.Queue[Any] = queue.Queue(_QUEUE_SIZE)
        self._last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name="openlineage", daemon=True)
        self._thread.start()
        atexit.register(self.close, exit_timeout)

    @classmethod
    def from_environment(cls, exit_timeout: float) -> Sender:
        """The client as OpenLineage configures it (`OPENLINEAGE_URL`, `openlineage.yml`...).
        The client writes `OPENLINEAGE__TRANSPORT__*` aliases of `OPENLINEAGE_URL` into the
        environment; they are taken back, so a later change of `OPENLINEAGE_URL` (or a child
        process) does not see a stale transport."""
        before = dict(os.environ)
        try:
            client = OpenLineageClient()
        finally:
            for key in set(os.environ) - set(before):
                del os.environ[key]
            os.environ.update(before)
        _settle_environment(client.transport)
        return cls(client, exit_timeout)

    def send(self, build: Callable[[], Any]) -> None:
        """Queue an event's builder: the event is built and sent by this sender's thread."""
        try:
            self._queue.put_nowait(build)
        except queue.Full:
            self._count("dropped", f"queue of {_QUEUE_SIZE} events full")

    def _run(self) -> None:
        while True:
            build = self._queue.get()
            event = None
            try:
                if build is None:
                    return
                event = build()
                self.client.emit(event)
                self._count("sent")
            except Exception as e:
                self._count("failed", f"{type(e).__name__}: {e}", event)
            finally:
                self._queue.task_done()

    def _count(self, outcome: str, problem: str | None = None, event: Any = None) -> None:
        _counts[outcome] += 1
        if problem is None:
            return
        what = "an event"
        if event is not None:
            what = f"{event.eventType.value} of {event.job.name} (run {event.run.runId})"
        # One line per distinct problem: a dead receiver is not a log flood.
        level = logging.WARNING if problem != self._last_error else logging.DEBUG
        log.log(level, "OpenLineage: %s not sent (%s): %s", what, outcome, problem)
        self._last_error = problem

    def flush(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for every queued event to be sent or to fail."""
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._queue.all_tasks_done.wait(left)
        return True

    def close(self, timeout: float) -> None:
        """Flush, then count what is still queued as dropped (the process is ending)."""
        if not self.flush(timeout):
            left = self._queue.unfinished_tasks
            _counts["dropped"] += left
            log.warning(
                "OpenLineage: %d events not sent within %.0f s; dropped: %s "
                "(LAKE_OPENLINEAGE_FLUSH_SECONDS sets the wait)",
                left,
                timeout,
                self._last_error or "the receiver has not answered",
            )
        atexit.unregister(self.close)
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)


def _settle_environment(transport: Any) -> None:
    """`requests` looks up proxies and CA bundles in the environment on every request: half
    the CPU of a POST to a local receiver (0.7 of 1.3 ms, measured). The receiver's URL is
    fixed, so the HTTP transport's session looks them up once, here."""
    from openlineage.client.transport.http import HttpTransport

    if not isinstance(transport, HttpTransport):
        return
    session = transport.session
    url = urljoin(transport.url, transport.endpoint)
    found = session.merge_environment_settings(url, {}, None, transport.verify, None)
    session.proxies.update(found["proxies"])
    transport.verify = found["verify"]
    session.trust_env = False


def stats() -> dict[str, int]:
    return dict(_counts)


def to_json(event: Any) -> str:
    """An event as the JSON every transport sends."""
    return Serde.to_json(event)
