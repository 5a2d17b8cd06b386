"""What Dagster's own storage says about lake partitions: which were built from which input
versions, which are being built right now (by anyone: the UI, a backfill, the CLI, a sensor),
and which were just materialized here (so the sensor need not poll S3 to see them)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    RunsFilter,
)

from lake_assets.dagster_layer.internals import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
    SENSOR_NAME_TAG,
    BulkActionsFilter,
    BulkActionStatus,
)
from lake_assets.dagster_layer.io_manager import INPUT_VERSIONS_KEY
from lake_assets.lake import DatasetId

UNFINISHED = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]
ACTIVE_BACKFILLS = [BulkActionStatus.REQUESTED, BulkActionStatus.CANCELING]


@dataclass
class InFlight:
    """Partitions that a queued or running run, or an unfinished backfill, will write.

    A run over a range is kept as the range; a run or job backfill that names no assets
    covers every asset of the location (it is what `dagster job backfill` launches)."""

    ranges: list[tuple[frozenset[AssetKey] | None, str, str]] = field(default_factory=list)
    partitions: set[tuple[AssetKey, str]] = field(default_factory=set)

    @classmethod
    def load(cls, instance: DagsterInstance) -> InFlight:
        found = cls()
        for run in instance.get_runs(RunsFilter(statuses=UNFINISHED)):
            keys = frozenset(run.asset_selection) if run.asset_selection else None
            tags = run.tags
            if PARTITION_NAME_TAG in tags:
                found.ranges.append((keys, tags[PARTITION_NAME_TAG], tags[PARTITION_NAME_TAG]))
            elif ASSET_PARTITION_RANGE_START_TAG in tags:
                start = tags[ASSET_PARTITION_RANGE_START_TAG]
                found.ranges.append((keys, start, tags.get(ASSET_PARTITION_RANGE_END_TAG, start)))
        active = BulkActionsFilter(statuses=ACTIVE_BACKFILLS)
        for backfill in instance.get_backfills(filters=active):
            data = backfill.asset_backfill_data
            if data is not None:
                for akp in data.target_subset.iterate_asset_partitions():
                    if akp.partition_key:
                        found.partitions.add((akp.asset_key, akp.partition_key))
            else:
                for name in backfill.partition_names or []:
                    found.ranges.append((None, name, name))
        return found

    def covers(self, key: AssetKey, date: str) -> bool:
        return (key, date) in self.partitions or any(
            (keys is None or key in keys) and start <= date <= end
            for keys, start, end in self.ranges
        )


class Built:
    """The input versions partitions' latest materializations recorded: per asset, one query
    for the latest event id of every partition, then only the events asked about."""

    def __init__(self, instance: DagsterInstance, keys: Mapping[DatasetId, AssetKey]) -> None:
        self.instance = instance
        self.keys = keys
        self._latest: dict[DatasetId, Mapping[str, int]] = {}
        self._inputs: dict[int, dict[str, str] | None] = {}
        self._run_ids: dict[int, str] = {}

    def storage_id(self, ds: DatasetId, date: str) -> int | None:
        if ds not in self._latest:
            self._latest[ds] = self.instance.get_latest_storage_id_by_partition(
                self.keys[ds], DagsterEventType.ASSET_MATERIALIZATION
            )
        return self._latest[ds].get(date)

    def prefetch(self, wanted: Iterable[tuple[DatasetId, str]]) -> None:
        """Fetch the materializations of many partitions in a few queries."""
        by_dataset: dict[DatasetId, list[int]] = {}
        for ds, date in wanted:
            sid = self.storage_id(ds, date)
            if sid is not None and sid not in self._inputs:
                by_dataset.setdefault(ds, []).append(sid)
        for ds, ids in by_dataset.items():
            ids = sorted(set(ids))
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                records = self.instance.fetch_materializations(
                    AssetRecordsFilter(asset_key=self.keys[ds], storage_ids=chunk),
                    limit=len(chunk),
                ).records
                self._inputs.update(dict.fromkeys(chunk))
                for record in records:
                    self._run_ids[record.storage_id] = record.event_log_entry.run_id
                    mat = record.asset_materialization
                    value = mat.metadata.get(INPUT_VERSIONS_KEY) if mat else None
                    self._inputs[record.storage_id] = (
                        dict(value.value) if value is not None else None
                    )

    def inputs(self, ds: DatasetId, date: str) -> dict[str, str] | None:
        sid = self.storage_id(ds, date)
        if sid is None:
            return None
        if sid not in self._inputs:
            self.prefetch([(ds, date)])
        return self._inputs[sid]

    def by_a_run(self, ds: DatasetId, date: str) -> bool:
        """Whether the partition's latest materialization was made by a run (a sensor's report
        of a write elsewhere has no run)."""
        sid = self.storage_id(ds, date)
        if sid is None:
            return False
        if sid not in self._inputs:
            self.prefetch([(ds, date)])
        return bool(self._run_ids.get(sid))


def materialized_since(
    instance: DagsterInstance,
    keys: Mapping[AssetKey, DatasetId],
    after: int | None,
    limit: int,
    ignore_sensor: str,
) -> tuple[list[tuple[DatasetId, str]], int | None]:
    """Partitions of `keys` materialized after storage id `after` (None: only where to start
    from), except by runs of `ignore_sensor` (its runs build their whole chain already), and
    the storage id to continue after: one query per asset, at most `limit` events each."""
    newest = instance.event_log_storage.get_maximum_record_id()
    if after is None:
        return [], newest or 0
    if newest is None or newest <= after:
        return [], after
    upto = newest
    own: dict[str, bool] = {}
    found: list[tuple[DatasetId, str]] = []
    for key, ds in keys.items():
        records = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=key, after_storage_id=after, before_storage_id=newest + 1),
            limit=limit,
            ascending=True,
        ).records
        if len(records) == limit:
            upto = min(upto, records[-1].storage_id)
        for record in records:
            run_id = record.event_log_entry.run_id
            if run_id not in own:
                run = instance.get_run_by_id(run_id)
                own[run_id] = run is not None and run.tags.get(SENSOR_NAME_TAG) == ignore_sensor
            if record.partition_key and not own[run_id]:
                found.append((ds, record.partition_key))
    return found, upto
