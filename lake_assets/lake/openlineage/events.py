"""OpenLineage RunEvents of one publish, built from the lake's own facts: the production
record names the exact upstream versions (sha256 and date) a version was made from.

Job: namespace the lake URL, name `repo/branch`. Datasets: the same namespace and name, the
version facet the sha256, the date as a partition subset. Run: nominal time the partition
date, parent the Dagster run where there is one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import Any

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    data_quality_assertions_dataset,
    dataset_version_dataset,
    error_message_run,
    job_type_job,
    nominal_time_run,
    output_statistics_output_dataset,
    parent_run,
    processing_engine_run,
    schema_dataset,
    source_code_location_job,
    storage_dataset,
)
from openlineage.client.generated import base_subset_dataset as subset

from lake_assets.lake.contract.refs import GrosRef, ProductionRecord
from lake_assets.lake.openlineage import Check, Publish
from lake_assets.lake.openlineage.ids import namespace

try:
    VERSION = metadata.version("lake_assets")
except metadata.PackageNotFoundError:
    VERSION = "0"
PRODUCER = f"urn:lake_assets:{VERSION}"
"""The `producer` of every event and facet: a URI naming this package and its version."""
DAGSTER_NAMESPACE = "dagster"
"""Namespace of the parent Dagster job (OpenLineage has no convention for Dagster)."""


def start(run: Publish, event_time: str) -> RunEvent:
    return _event(RunState.START, run, event_time, outputs=[_output(run)])


def complete(
    run: Publish, record: ProductionRecord, checks: Sequence[Check], event_time: str
) -> RunEvent:
    ref = record.gros_ref
    facets: dict[str, Any] = {}
    if ref.sha256:
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=ref.sha256, producer=PRODUCER
        )
    if record.columns:
        facets["schema"] = schema_dataset.SchemaDatasetFacet(
            fields=[
                schema_dataset.SchemaDatasetFacetFields(name=c["name"], type=c["type"])
                for c in record.columns
            ],
            producer=PRODUCER,
        )
    stats = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
        rowCount=ref.rows, size=ref.bytes, fileCount=1, producer=PRODUCER
    )
    return _event(
        RunState.COMPLETE,
        run,
        event_time,
        inputs=[_input(up, namespace(run.lake_url)) for up in record.upstreams],
        outputs=[_output(run, facets, checks, {"outputStatistics": stats})],
    )


def fail(run: Publish, message: str, checks: Sequence[Check], event_time: str) -> RunEvent:
    error = error_message_run.ErrorMessageRunFacet(
        message=message, programmingLanguage="python", producer=PRODUCER
    )
    return _event(
        RunState.FAIL,
        run,
        event_time,
        outputs=[_output(run, {}, checks)],
        run_facets={"errorMessage": error},
    )


def _event(
    state: RunState,
    run: Publish,
    event_time: str,
    *,
    inputs: Sequence[InputDataset] = (),
    outputs: Sequence[OutputDataset] = (),
    run_facets: Mapping[str, Any] | None = None,
) -> RunEvent:
    return RunEvent(
        eventType=state,
        eventTime=_utc(event_time),
        run=Run(runId=run.run_id, facets={**_run_facets(run), **(run_facets or {})}),
        job=Job(namespace=namespace(run.lake_url), name=str(run.dataset), facets=_job_facets(run)),
        inputs=list(inputs),
        outputs=list(outputs),
        producer=PRODUCER,
    )


def _run_facets(run: Publish) -> dict[str, Any]:
    day = dt.date.fromisoformat(run.date)
    facets: dict[str, Any] = {
        "nominalTime": nominal_time_run.NominalTimeRunFacet(
            nominalStartTime=f"{day.isoformat()}T00:00:00Z",
            nominalEndTime=f"{(day + dt.timedelta(days=1)).isoformat()}T00:00:00Z",
            producer=PRODUCER,
        )
    }
    producer = run.producer
    engine, engine_version = "lake_assets", VERSION
    if dagster_run := producer.get("run_id"):
        facets["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=str(dagster_run)),
            job=parent_run.Job(
                namespace=DAGSTER_NAMESPACE, name=str(producer.get("job") or "dagster")
            ),
            producer=PRODUCER,
        )
        engine, engine_version = "dagster", producer.get("versions", {}).get("dagster", "")
    facets["processing_engine"] = processing_engine_run.ProcessingEngineRunFacet(
        version=engine_version or VERSION,
        name=engine,
        openlineageAdapterVersion=VERSION,
        producer=PRODUCER,
    )
    return facets


def _job_facets(run: Publish) -> dict[str, Any]:
    producer = run.producer
    dagster = bool(producer.get("run_id"))
    facets: dict[str, Any] = {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH",
            integration="DAGSTER" if dagster else "LAKE_ASSETS",
            jobType="ASSET" if dagster else "PUBLISH",
            producer=PRODUCER,
        )
    }
    if function := producer.get("function"):
        facets["sourceCodeLocation"] = source_code_location_job.SourceCodeLocationJobFacet(
            type="python",
            url=f"python:{function}",
            path=str(function).rpartition(".")[0].replace(".", "/") + ".py",
            version=producer.get("git_commit"),
            producer=PRODUCER,
        )
    return facets


def _partition(date: str) -> subset.PartitionSubsetCondition:
    return subset.PartitionSubsetCondition(
        partitions=[subset.Partition(dimensions={"date": date}, identifier=date)]
    )


def _input(up: GrosRef, lake_namespace: str) -> InputDataset:
    """An upstream version: always in the publishing lake (a record names no other)."""
    facets: dict[str, Any] = {}
    if up.sha256:
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=up.sha256, producer=PRODUCER
        )
    return InputDataset(
        namespace=lake_namespace,
        name=str(up.dataset),
        facets=facets,
        inputFacets={
            "subset": subset.InputSubsetInputDatasetFacet(
                inputCondition=_partition(up.date), producer=PRODUCER
            )
        },
    )


def _output(
    run: Publish,
    facets: Mapping[str, Any] | None = None,
    checks: Sequence[Check] = (),
    output_facets: Mapping[str, Any] | None = None,
) -> OutputDataset:
    all_facets: dict[str, Any] = {
        "storage": storage_dataset.StorageDatasetFacet(
            storageLayer="gros", fileFormat="csv.gz", producer=PRODUCER
        ),
        **(facets or {}),
    }
    if checks:
        all_facets["dataQualityAssertions"] = (
            data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
                assertions=[_assertion(c) for c in checks], producer=PRODUCER
            )
        )
    return OutputDataset(
        namespace=namespace(run.lake_url),
        name=str(run.dataset),
        facets=all_facets,
        outputFacets={
            "subset": subset.OutputSubsetOutputDatasetFacet(
                outputCondition=_partition(run.date), producer=PRODUCER
            ),
            **(output_facets or {}),
        },
    )


def _assertion(check: Check) -> data_quality_assertions_dataset.Assertion:
    return data_quality_assertions_dataset.Assertion(
        assertion=check.name,
        success=check.passed,
        column=check.column,
        severity="error" if check.blocking else "warn",
        name=check.name,
        description=check.description,
        actual=check.actual,
    )


def _utc(timestamp: str) -> str:
    """RFC 3339 in UTC with a `Z`, as receivers expect."""
    parsed = dt.datetime.fromisoformat(timestamp)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
