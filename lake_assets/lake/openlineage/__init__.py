"""OpenLineage events for every publish: a dataset version is one run of its producer's job.

Configured the way every OpenLineage client is (`OPENLINEAGE_URL`, `OPENLINEAGE_CONFIG` or an
`openlineage.yml`, `OPENLINEAGE__TRANSPORT__*`; `OPENLINEAGE_DISABLED=true` turns it off).
With nothing configured nothing is imported or sent: a publish pays a few environment lookups.

Events are sent by one background thread, so a slow or dead receiver never slows or fails a
publish: what cannot be sent is logged and counted (`stats()`). Callers that end a unit of
work (a Dagster step, the `lake` CLI) call `flush()`, bounded by `LAKE_OPENLINEAGE_FLUSH_SECONDS`.
"""

from __future__ import annotations

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

    @property
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
    """Send START for `run`, once per run in this process (a Dagster step starts its days
    before the IO manager publishes them)."""
    if (out := sender()) is None:
        return
    run_id = run.run_id
    with _lock:
        if run_id in _open:
            return
        _open[run_id] = _Open()
    from lake_assets.lake.openlineage import events

    out.send(events.start(run, event_time or utc_now()))


def checked(run: Publish, checks: Sequence[Check]) -> None:
    """Attach check results to `run`'s COMPLETE or FAIL event."""
    if not enabled():
        return
    with _lock:
        _open.setdefault(run.run_id, _Open()).checks.extend(checks)


def completed(run: Publish, record: ProductionRecord) -> None:
    """Send COMPLETE for the version `record` describes (START first if none was sent)."""
    if (out := sender()) is None:
        return
    started(run, record.gros_ref.created_at)
    from lake_assets.lake.openlineage import events

    out.send(events.complete(run, record, _close(run).checks, utc_now()))


def failed(run: Publish, message: str) -> None:
    """Send FAIL for `run`: nothing was published (a blocking check, an error, a refusal)."""
    if (out := sender()) is None:
        return
    started(run)
    from lake_assets.lake.openlineage import events

    out.send(events.fail(run, message, _close(run).checks, utc_now()))


def _close(run: Publish) -> _Open:
    with _lock:
        return _open.pop(run.run_id, None) or _Open()


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
