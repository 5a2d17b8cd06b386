"""OpenLineage events for every publish: a dataset version is one run of its producer's job.

Configured the way every OpenLineage client is (`OPENLINEAGE_URL`, `OPENLINEAGE_CONFIG` or an
`openlineage.yml`, `OPENLINEAGE__TRANSPORT__*`; `OPENLINEAGE_DISABLED=true` turns it off).
With nothing configured nothing is imported or sent: a publish pays a few environment lookups.

Events are sent by one background thread, so a slow or dead receiver never slows or fails a
publish: what cannot be sent is logged and counted (`stats()`). Callers that end a unit of
work (a Dagster step, the `lake` CLI) call `flush()`, bounded by `LAKE_OPENLINEAGE_FLUSH_SECONDS`.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lake_assets.lake.contract.keys import DatasetId
from lake_assets.lake.contract.refs import ProductionRecord, utc_now

if TYPE_CHECKING:
    from lake_assets.lake.openlineage.sending import Sender

FLUSH_SECONDS_VAR = "LAKE_OPENLINEAGE_FLUSH_SECONDS"
DEFAULT_FLUSH_SECONDS = 5.0


@dataclass(frozen=True)
class Check:
    """One data-quality check of the version being made, as an OpenLineage assertion."""

    name: str
    passed: bool
    blocking: bool
    description: str | None = None
    actual: str | None = None
    column: str | None = None


@dataclass(frozen=True)
class Publish:
    """One run of a dataset's producer: what is known when it starts. Its run id is a
    function of these facts, so `lake lineage export` names the same run later."""

    lake_url: str
    dataset: DatasetId
    date: str
    producer: Mapping[str, Any]
    created_at: str | None = None

    @functools.cached_property
    def run_id(self) -> str:
        from lake_assets.lake.openlineage.ids import run_id

        return run_id(self.lake_url, self.dataset, self.date, self.producer, self.created_at)


@dataclass
class _Open:
    """A run this process started: its checks wait for the COMPLETE or FAIL event."""

    checks: list[Check] = field(default_factory=list)


_lock = threading.Lock()
_open: dict[str, _Open] = {}
_sender: tuple[tuple[Any, ...], Sender] | None = None


def _config_files() -> tuple[str, ...]:
    return (
        os.path.join(os.getcwd(), "openlineage.yml"),
        os.path.join(os.path.expanduser("~/.openlineage"), "openlineage.yml"),
    )


def _signature() -> tuple[Any, ...] | None:
    """What the OpenLineage client would be configured from; None when nothing is."""
    if os.environ.get("OPENLINEAGE_DISABLED", "").strip().lower() == "true":
        return None
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("OPENLINEAGE")))
    files = tuple(p for p in _config_files() if Path(p).is_file())
    if not files and not any(
        k in ("OPENLINEAGE_URL", "OPENLINEAGE_CONFIG") or k.startswith("OPENLINEAGE__TRANSPORT")
        for k, _ in env
    ):
        return None
    return env, files


def sender() -> Sender | None:
    """The process's sender for the current configuration, or None when none is set."""
    global _sender
    signature = _signature()
    if signature is None:
        return None
    with _lock:
        if _sender is None or _sender[0] != signature:
            from lake_assets.lake.openlineage.sending import Sender

            if _sender is not None:
                _sender[1].close(_flush_seconds())
            _sender = (signature, Sender.from_environment(_flush_seconds()))
        return _sender[1]


def enabled() -> bool:
    return _signature() is not None


def started(run: Publish, event_time: str | None = None) -> None:
    """Queue START for `run` now, once per run in this process: for a run that does work
    before it publishes (a Dagster step builds its days, then the IO manager publishes)."""
    if (out := sender()) is None:
        return
    when = event_time or utc_now()
    with _lock:
        if run.run_id in _open:
            return
        _open[run.run_id] = _Open()
    out.send(functools.partial(_build, "start", run, when))


def checked(run: Publish, checks: Sequence[Check]) -> None:
    """Attach check results to `run`'s COMPLETE or FAIL event."""
    if not enabled():
        return
    with _lock:
        _open.setdefault(run.run_id, _Open()).checks.extend(checks)


def completed(run: Publish, record: ProductionRecord, started_at: str, out: Sender) -> None:
    """Queue COMPLETE for the version `record` describes, after START (at `started_at`) if
    none was queued: a publish's own START waits for its end, so sending never competes
    with the writes."""
    _end(out, run, started_at, "complete", record)


def failed(run: Publish, message: str, started_at: str | None = None) -> None:
    """Queue FAIL for `run`: nothing was published (a blocking check, an error, a refusal)."""
    if (out := sender()) is not None:
        _end(out, run, started_at or utc_now(), "fail", message)


def _end(out: Sender, run: Publish, started_at: str, kind: str, detail: Any) -> None:
    with _lock:
        opened = _open.pop(run.run_id, None)
    if opened is None:
        out.send(functools.partial(_build, "start", run, started_at))
    checks = opened.checks if opened else []
    out.send(functools.partial(_build, kind, run, utc_now(), detail, checks))


def _build(kind: str, run: Publish, when: str, *args: Any) -> Any:
    """An event, built by the sender's thread (so a publish only queues the facts)."""
    from lake_assets.lake.openlineage import events

    if kind == "start":
        return events.start(run, when)
    if kind == "complete":
        record, checks = args
        return events.complete(run, record, checks, when)
    message, checks = args
    return events.fail(run, message, checks, when)


def _flush_seconds() -> float:
    try:
        return float(os.environ.get(FLUSH_SECONDS_VAR, DEFAULT_FLUSH_SECONDS))
    except ValueError:
        return DEFAULT_FLUSH_SECONDS


def flush(timeout: float | None = None) -> bool:
    """Wait (at most `timeout`, default `LAKE_OPENLINEAGE_FLUSH_SECONDS`) for the events sent
    so far; True when none is left. Events still queued are sent later or counted dropped."""
    current = _sender
    if current is None:
        return True
    return current[1].flush(_flush_seconds() if timeout is None else timeout)


def finish() -> None:
    """Before a process ends without `atexit` (the `lake` CLI): flush, and count and log
    what is left as dropped."""
    current = _sender
    if current is not None:
        current[1].close(_flush_seconds())


def stats() -> dict[str, int]:
    """Events this process sent, failed to send (the receiver refused or was unreachable)
    and dropped (still queued when the process ended, or the queue was full)."""
    if _sender is None:
        return {"sent": 0, "failed": 0, "dropped": 0}
    from lake_assets.lake.openlineage import sending

    return sending.stats()
