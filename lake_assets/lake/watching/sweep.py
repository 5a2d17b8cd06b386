"""Sweeping upstreams' `data/` listings: how a republish of any date is seen, whoever wrote
it (another code location, or a job writing to S3 with plain boto3), with no `latest` move.

A pass lists each watched dataset once; what a sweeper remembers of a dataset is a watermark
(the newest last-modified time seen) and the version tokens of the objects written within
`margin` of it, so its memory stays small however many dates a dataset has. The margin covers
an object that becomes visible after newer ones (S3 stamps a multipart upload with its start).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from lake_assets.lake.contract.keys import DatasetId
from lake_assets.lake.storage.store import Store

SWEEP_WORKERS = 16


@dataclass(frozen=True)
class Mark:
    """What a sweeper remembers of one dataset after a pass."""

    watermark: float
    recent: Mapping[str, str]
    """Date to version token of the objects last modified within the margin of `watermark`."""

    def to_list(self) -> list[object]:
        return [self.watermark, dict(self.recent)]

    @classmethod
    def from_list(cls, raw: list[object]) -> Mark:
        watermark, recent = raw
        return cls(float(watermark), dict(recent))  # type: ignore[arg-type]


@dataclass
class Swept:
    """One dataset's pass: its dates written since the last pass, with their version tokens
    (every date on a first pass), and the mark for the next."""

    dataset: DatasetId
    written: dict[str, str]
    mark: Mark


@dataclass
class Sweep:
    swept: list[Swept] = field(default_factory=list)
    requests: int = 0


def sweep(
    store: Store,
    datasets: Iterable[DatasetId],
    marks: Mapping[DatasetId, Mark],
    margin: float,
    workers: int = SWEEP_WORKERS,
) -> Sweep:
    """List each dataset's `data/` once; unreachable storage raises, so nothing is lost."""
    datasets = list(datasets)

    def one(ds: DatasetId) -> tuple[Swept, int]:
        infos = list(store.list(ds.data_prefix))
        return written_since(ds, infos, marks.get(ds), margin), 1 + len(infos) // 1000

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(datasets)))) as pool:
        outcomes = list(pool.map(one, datasets))
    result = Sweep()
    for swept, requests in outcomes:
        result.swept.append(swept)
        result.requests += requests
    return result


def written_since(ds: DatasetId, infos: Iterable, before: Mark | None, margin: float) -> Swept:
    """The dates in a listing written since `before` (all of them when None)."""
    dated = [(d, info) for info in infos if (d := ds.date_of(info.key))]
    newest = max((info.modified or 0.0 for _, info in dated), default=0.0)
    watermark = max(newest, before.watermark if before else 0.0)
    written: dict[str, str] = {}
    recent: dict[str, str] = {}
    for date, info in dated:
        modified = info.modified or 0.0
        if modified >= watermark - margin:
            recent[date] = info.etag
        if before is None or (
            modified >= before.watermark - margin and before.recent.get(date) != info.etag
        ):
            written[date] = info.etag
    return Swept(ds, dict(sorted(written.items())), Mark(watermark, recent))
