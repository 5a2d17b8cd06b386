"""Publishing a version (GROS_SPEC §3 and §5): data object, production record and audit
objects, then `latest`, each written so a crash or a racing writer leaves no half version."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lake_assets.lake import lineage, openlineage
from lake_assets.lake.contract.errors import AlreadyPublished, CorruptObject, PublishConflict
from lake_assets.lake.contract.keys import DatasetId
from lake_assets.lake.contract.names import validate_date
from lake_assets.lake.contract.refs import GrosRef, ProductionRecord, utc_now
from lake_assets.lake.producer import producer as default_producer
from lake_assets.lake.versions import Version, Versions

if TYPE_CHECKING:
    import pandas as pd

    from lake_assets.lake.codec import gzip_csv as codec

_CAS_ATTEMPTS = 50


class Publishing(Versions):
    """Writes to one lake root."""

    def publish(
        self,
        df: pd.DataFrame,
        dataset: DatasetId,
        date: str,
        *,
        upstreams: Iterable[GrosRef] | None = None,
        producer: Mapping[str, Any] | None = None,
        overwrite: bool = False,
        scope: Hashable | None = None,
    ) -> GrosRef:
        """Publish `df` as version `date`: data object, production record and audit objects,
        then `latest` (moved only forward). `upstreams=None` takes the reads of the scope.
        A date already published is AlreadyPublished unless `overwrite` (`lake publish
        --force`), so a rerun never replaces a version by accident."""
        from lake_assets.lake.codec import columns as colspec
        from lake_assets.lake.codec import gzip_csv as codec

        date = validate_date(date)
        encoded = codec.encode(df)
        ups = (
            lineage.upstreams_for(date, lineage.reads(scope))
            if upstreams is None
            else list(upstreams)
        )
        return self.publish_encoded(
            encoded,
            dataset,
            date,
            upstreams=ups,
            producer=producer,
            overwrite=overwrite,
            columns=colspec.describe(df),
        )

    def publish_encoded(
        self,
        encoded: codec.Encoded,
        dataset: DatasetId,
        date: str,
        *,
        upstreams: Sequence[GrosRef] = (),
        producer: Mapping[str, Any] | None = None,
        overwrite: bool = False,
        columns: list[dict[str, str]] | None = None,
    ) -> GrosRef:
        """`publish` of bytes already encoded. Without `overwrite` the data object is written
        only if absent (one conditional PUT, so two racing first publishers cannot both win)."""
        date = validate_date(date)
        ref = GrosRef(
            repo=dataset.repo,
            branch=dataset.branch,
            date=date,
            uri=f"gros://{dataset}:{date}",
            sha256=encoded.sha256,
            bytes=encoded.size,
            rows=encoded.rows,
            created_at=utc_now(),
        )
        made_by = default_producer(**(producer or {}))
        if (lineage_events := openlineage.sender()) is None:
            self._write(ref, encoded, upstreams, made_by, overwrite, columns)
            return ref
        run = openlineage.Publish(self.store.url, dataset, date, made_by, ref.created_at)
        try:
            record = self._write(ref, encoded, upstreams, made_by, overwrite, columns)
        except Exception as e:
            openlineage.failed(run, f"{type(e).__name__}: {e}", ref.created_at)
            raise
        openlineage.completed(run, record, ref.created_at or utc_now(), lineage_events)
        return ref

    def _write(
        self,
        ref: GrosRef,
        encoded: codec.Encoded,
        upstreams: Sequence[GrosRef],
        producer: dict[str, Any],
        overwrite: bool,
        columns: list[dict[str, str]] | None,
    ) -> ProductionRecord:
        dataset, date = ref.dataset, ref.date
        key = dataset.data_key(date)
        if overwrite:
            data_etag = self._replace(dataset, date, encoded)
        elif (data_etag := self.store.put_if(key, encoded.data, etag=None)) is None:
            raise AlreadyPublished.of(ref.version_uri, key)
        record = ProductionRecord(
            gros_ref=ref,
            upstreams=list(upstreams),
            producer=producer,
            columns=columns,
            newlines_in_values=encoded.newlines,
            data_etag=data_etag,
        )
        self.store.put(dataset.record_key(date), record.to_json())
        for up in upstreams:
            self.store.put(up.dataset.audit_key(up.date, dataset), ref.to_json())
        self.advance_latest(ref)
        return record

    def _replace(self, dataset: DatasetId, date: str, encoded: codec.Encoded) -> str:
        """Write `date`'s data object, first keeping the one it replaces under `versions/`
        with its record (spec §6). The write is conditional on the object being the one
        kept, so two writers replacing at once each keep what they replace, and a replace
        killed at any point leaves the current version whole and every version held."""
        key = dataset.data_key(date)
        current = self._recorded_version(dataset, date)
        while True:
            current = current or self._current_version(dataset, date)
            if current is None:
                etag = self.store.put_if(key, encoded.data, etag=None)
            elif current.sha256 == encoded.sha256:
                info = self.store.head(key)  # the record may describe bytes since replaced
                if info is not None and info.etag == current.etag:
                    return current.etag  # the same bytes: nothing is superseded
                etag = None
            elif self._keep(dataset, date, current):
                etag = self.store.put_if(key, encoded.data, etag=current.etag)
            else:
                etag = None  # replaced while being kept: keep the newer one
            if etag is not None:
                return etag
            current = None

    def _keep(self, dataset: DatasetId, date: str, current: Version) -> bool:
        """Copy the current version and its record to `versions/`; False when the object
        changed meanwhile. A copy already there is left alone (content addressed)."""
        sha = current.sha256
        if self.store.head(dataset.version_key(date, sha)) is None and not self.store.copy(
            current.key, dataset.version_key(date, sha), etag=current.etag
        ):
            return False
        if current.record is not None:
            record_key = dataset.version_record_key(date, sha)
            self.store.put_if(record_key, current.record.to_json(), etag=None)
        return True

    def advance_latest(self, ref: GrosRef) -> bool:
        """Point `latest` at `ref` unless it already holds a newer date. Conditional writes
        make two racing writers end at the newer date. Returns whether `latest` moved."""
        ds = ref.dataset
        for attempt in range(_CAS_ATTEMPTS):
            got = self.store.get_if_changed(ds.latest_key, None)
            etag = None
            if got is not None:
                data, info = got
                etag = info.etag
                try:
                    current: GrosRef | None = GrosRef.from_json(data, ds.latest_key)
                except CorruptObject:
                    current = None
                if current is not None and current.date > ref.date:
                    return False
            if self.store.put_if(ds.latest_key, ref.to_json(), etag=etag) is not None:
                return True
            time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
        raise PublishConflict(f"gave up moving {ds.latest_key} after {_CAS_ATTEMPTS} races")

    def register_downstream(
        self, upstream: DatasetId, downstream: GrosRef, tag: str | None
    ) -> None:
        """Write `upstream`'s registration of a consumer, with the tag it reads by (null for
        no tag): one PUT, so registering thousands stays cheap."""
        key = upstream.registration_key(downstream.dataset)
        body = json.loads(downstream.model_dump_json(exclude_none=True))
        data = json.dumps({**body, "tag": tag}, separators=(",", ":")).encode()
        self.store.put(key, data)
