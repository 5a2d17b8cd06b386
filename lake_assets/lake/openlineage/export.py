"""`lake lineage export`: the lake's history as OpenLineage events, from the production records
(current and kept versions), so a new catalog learns every version's lineage, not only what
is published from now on. Idempotent: a version's run id and event times come from its
record, so a second export sends the same events."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlparse

from lake_assets.lake.catalog import listed_datasets
from lake_assets.lake.contract.errors import CorruptObject, LakeError, NotFound
from lake_assets.lake.contract.keys import RECORD_PATH, VERSION_RECORD_PATH
from lake_assets.lake.contract.names import validate_date
from lake_assets.lake.contract.refs import ProductionRecord
from lake_assets.lake.lake import Lake
from lake_assets.lake.openlineage import Publish
from lake_assets.lake.storage.store import ObjectInfo
from lake_assets.lake.versions import made_at

_READERS = 16
DEFAULT_ENDPOINT = "api/v1/lineage"
_RETRIES = 3
"""A few retries (about 2 s of backoff), not the client's five (about 9 s): a person waits."""


@dataclass
class Exported:
    events: int = 0
    versions: int = 0
    datasets: int = 0


def record_keys(lake: Lake) -> Iterator[ObjectInfo]:
    """Every production record, current and kept, of every dataset."""
    for ds in listed_datasets(lake.store, ("asset/", "dependency/")):
        for info in lake.store.list(ds.dependency_prefix):
            rel = info.key[len(ds.dependency_prefix) :]
            m = RECORD_PATH.fullmatch(rel)
            if (m and m.group(1) == m.group(2)) or VERSION_RECORD_PATH.fullmatch(rel):
                yield info


def records(lake: Lake, since: str | None = None) -> Iterator[tuple[ProductionRecord, str]]:
    """`(record, created_at)` of every version made on or after `since` (a date, UTC),
    oldest first, so a catalog hears of an upstream before what read it."""
    infos = list(record_keys(lake))
    if lake.store.remote and len(infos) > 1:
        with ThreadPoolExecutor(_READERS) as pool:
            got = list(pool.map(lambda i: _fetch(lake, i), infos))
    else:
        got = [_fetch(lake, i) for i in infos]
    cut = dt.datetime.fromisoformat(validate_date(since)).replace(tzinfo=dt.UTC) if since else None
    found = []
    for info, record in zip(infos, got, strict=True):
        if record is None:
            continue
        when = made_at(record.gros_ref.created_at, info.modified)
        if cut is None or when >= cut:
            found.append((when, info.key, record))
    found.sort(key=lambda t: (t[0], t[1]))
    for when, _key, record in found:
        yield record, record.gros_ref.created_at or when.isoformat(timespec="microseconds")


def _fetch(lake: Lake, info: ObjectInfo) -> ProductionRecord | None:
    try:
        return ProductionRecord.from_json(lake.store.get(info.key), info.key)
    except (NotFound, CorruptObject):
        return None


def events_of(lake_url: str, record: ProductionRecord, created_at: str) -> list[Any]:
    """START and COMPLETE of the run that made `record`'s version, both at its creation."""
    from lake_assets.lake.openlineage import events

    ref = record.gros_ref
    run = Publish(lake_url, ref.dataset, ref.date, record.producer, created_at)
    return [events.start(run, created_at), events.complete(run, record, (), created_at)]


def export(lake: Lake, target: str, since: str | None = None) -> Exported:
    """Send the events of every version made since `since` to `target`: an http(s) URL of
    an OpenLineage receiver (`api/v1/lineage` unless the URL names a path), a file of one
    JSON event per line (rewritten), or `-` for stdout."""
    done = Exported()
    datasets = set()
    with _Target(target) as out:
        for record, created_at in records(lake, since):
            for event in events_of(lake.store.url, record, created_at):
                out.send(event, done.events)
                done.events += 1
            done.versions += 1
            datasets.add(record.gros_ref.dataset)
    done.datasets = len(datasets)
    return done


class _Target:
    """Where export sends: the OpenLineage HTTP transport, or JSON lines."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.transport: Any = None
        self.stream: TextIO | None = None

    def __enter__(self) -> _Target:
        parsed = urlparse(self.target)
        if parsed.scheme in ("http", "https"):
            from openlineage.client.transport.http import HttpConfig, HttpTransport
            from openlineage.client.transport.http_common import DEFAULT_RETRY_CONFIG

            retry = {
                **DEFAULT_RETRY_CONFIG,
                "total": _RETRIES,
                "connect": _RETRIES,
                "read": _RETRIES,
            }

            path = parsed.path.strip("/")
            base = f"{parsed.scheme}://{parsed.netloc}/"
            config = HttpConfig.from_dict(
                {
                    "url": base,
                    "endpoint": path or DEFAULT_ENDPOINT,
                    "retry": retry,
                }
            )
            self.transport = HttpTransport(config)
        elif self.target == "-":
            self.stream = sys.stdout
        else:
            try:
                self.stream = Path(self.target).open("w", encoding="utf-8")
            except OSError as e:
                raise LakeError(f"cannot write {self.target}: {e.strerror}") from None
        return self

    def send(self, event: Any, sent_before: int) -> None:
        from lake_assets.lake.openlineage.sending import to_json

        if self.transport is None:
            assert self.stream is not None
            self.stream.write(to_json(event) + "\n")
            return
        try:
            self.transport.emit(event)
        except Exception as e:
            raise LakeError(
                f"OpenLineage receiver {self.target} refused or did not answer after "
                f"{sent_before} events were sent: {type(e).__name__}: {e}"
            ) from None

    def __exit__(self, *exc: object) -> None:
        if self.stream is not None and self.stream is not sys.stdout:
            self.stream.close()
        elif self.stream is sys.stdout:
            self.stream.flush()
        if self.transport is not None:
            self.transport.close()
