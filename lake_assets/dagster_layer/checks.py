"""A dataset's pandera schema as Dagster sees it: the output's DagsterType, the table-schema
metadata, and the blocking checks that run in the asset body before anything is published.

(dagster-pandera does this too, but it does not support pandas 3.)
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pandera.pandas as pa
from dagster import (
    AssetCheckEvaluation,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    DagsterType,
    MetadataValue,
    PartitionsDefinition,
    PreviewWarning,
    TableColumn,
    TableColumnConstraints,
    TableSchema,
    TypeCheck,
)

from lake_assets.dagster_layer.context import DatasetContext
from lake_assets.dagster_layer.internals import AssetCheckEvaluationTargetMaterializationData

SchemaLike = pa.DataFrameSchema | type[pa.DataFrameModel]
SCHEMA_CHECK = "schema"
QUARANTINE_CHECK = "quarantine_budget"
SAMPLE_ROWS = 10
PREVIEW_ROWS = 5
PREVIEW_COLUMNS = 30
_CELL = 40


def as_schema(schema: SchemaLike) -> pa.DataFrameSchema:
    if isinstance(schema, pa.DataFrameSchema):
        return schema
    if isinstance(schema, type) and issubclass(schema, pa.DataFrameModel):
        return schema.to_schema()
    raise TypeError(
        f"a dataset schema is a pandera DataFrameSchema or DataFrameModel, not {schema!r}"
    )


def schema_fingerprint(schema: pa.DataFrameSchema) -> str:
    """A stable text of the schema, for the code version."""
    frame_checks = ",".join(sorted(str(c.name) for c in schema.checks))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # custom checks are left out; their names are not
            return (schema.to_json() or "") + frame_checks
    except Exception:
        columns = sorted((str(n), str(c.dtype), c.nullable) for n, c in schema.columns.items())
        return repr(columns) + frame_checks


def table_schema(schema: pa.DataFrameSchema) -> TableSchema:
    """The `dagster/column_schema` metadata the UI shows as the asset's columns."""
    return TableSchema(
        columns=[
            TableColumn(
                name=str(name),
                type=str(col.dtype) if col.dtype is not None else "any",
                description=col.description,
                constraints=TableColumnConstraints(
                    nullable=col.nullable,
                    unique=col.unique,
                    other=[str(c.error or c.name) for c in col.checks],
                ),
            )
            for name, col in schema.columns.items()
        ]
    )


def check_spec(
    name: str, asset: AssetKey, partitions_def: PartitionsDefinition, description: str
) -> AssetCheckSpec:
    """A blocking check evaluated per partition (`partitions_def` must be the asset's), so each
    day's result is its own in the UI. Dagster warns on every such spec that partitioned checks
    are a preview; that one warning is silenced here, not preview warnings at large."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message="Specifying a partitions_def on an AssetCheckSpec is currently in preview",
            category=PreviewWarning,
        )
        return AssetCheckSpec(
            name,
            asset=asset,
            blocking=True,
            description=description,
            partitions_def=partitions_def,
        )


def frame_schema(df: pd.DataFrame, declared: Any = None) -> TableSchema:
    """The `dagster/column_schema` of one published partition: its columns in order, typed by
    the frame's own dtypes (so bronze, whose schema declares none, shows real types too), with
    the description and constraints the declared schema (a `TableSchema` or its metadata
    value) gives a column of the same name."""
    declared = getattr(declared, "schema", declared)
    known = {c.name: c for c in declared.columns} if isinstance(declared, TableSchema) else {}
    columns = []
    for name, dtype in df.dtypes.items():
        col = known.get(str(name))
        description, constraints = (col.description, col.constraints) if col else (None, None)
        columns.append(TableColumn(str(name), str(dtype), description, constraints))
    return TableSchema(columns=columns)


def dagster_type(name: str, schema: pa.DataFrameSchema) -> DagsterType:
    """The output type: a DataFrame, or a `{date: DataFrame}` dict for a partition range,
    holding the schema's required columns. The full validation already ran as the blocking
    `schema` check, so the type check stays cheap."""
    required = [str(n) for n, c in schema.columns.items() if c.required]

    def check(_context: Any, value: Any) -> TypeCheck:
        frames = value if isinstance(value, Mapping) else {"output": value}
        for key, df in frames.items():
            if not isinstance(df, pd.DataFrame):
                return TypeCheck(False, f"{key}: expected a DataFrame, got {type(df).__name__}")
            if missing := [c for c in required if c not in df.columns]:
                return TypeCheck(False, f"{key}: missing columns {missing}")
        return TypeCheck(True, metadata={"partitions": len(frames)})

    return DagsterType(
        type_check_fn=check,
        name=name,
        description=f"A pandas DataFrame (one per partition) validated by {schema.name}.",
        typing_type=pd.DataFrame,
    )


@dataclass
class Outcome:
    """One check on one partition."""

    check: str
    partition: str
    passed: bool
    problem: str = ""
    rows: int = 0
    failing_rows: int = 0
    sample: pd.DataFrame | None = None
    cases: pd.DataFrame | None = None
    metadata: dict[str, MetadataValue] = field(default_factory=dict)
    """Check-specific metadata for the evaluation."""


def validate(
    schema: pa.DataFrameSchema, df: pd.DataFrame, partition: str
) -> tuple[pd.DataFrame, Outcome]:
    """Validate (and coerce) one partition; the frame returned is the one to publish."""
    try:
        out = schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as e:
        return df, _schema_failure(schema, df, partition, e.failure_cases)
    except pa.errors.SchemaError as e:
        cases = pd.DataFrame({"check": [str(e.check)], "failure_case": [str(e)]})
        return df, Outcome(SCHEMA_CHECK, partition, False, str(e), len(df), len(df), cases=cases)
    return out, Outcome(SCHEMA_CHECK, partition, True, rows=len(out))


def _schema_failure(
    schema: pa.DataFrameSchema, df: pd.DataFrame, partition: str, cases: pd.DataFrame
) -> Outcome:
    frame_level = cases[cases["index"].isna()]
    row_level = cases[cases["index"].notna()]
    rows_idx = pd.Index(row_level["index"].unique())
    whole_frame = not frame_level.empty
    failing = len(df) if whole_frame else len(rows_idx)
    sample = df.loc[df.index.intersection(rows_idx)].head(SAMPLE_ROWS)
    problems = [
        f"{r.check} {r.failure_case!r}" if r.check == "column_in_dataframe" else f"{r.check}"
        for r in frame_level.head(5).itertuples()
    ]
    if len(row_level):
        summary = (
            row_level.assign(column=row_level["column"].astype("str"))
            .groupby(["column", "check"], sort=True)
            .size()
            .reset_index(name="failures")
        )
        problems += [f"{r.column}: {r.check} ({r.failures}x)" for r in summary.head(5).itertuples()]
    what = "the frame breaks" if whole_frame else f"{failing} of {len(df)} rows break"
    return Outcome(
        SCHEMA_CHECK,
        partition,
        False,
        f"{what} {schema.name}: {'; '.join(problems)}",
        len(df),
        failing,
        sample=sample,
        cases=cases[["column", "check", "failure_case", "index"]],
    )


def quarantine_outcome(ctx: DatasetContext, published_rows: int, budget: float) -> Outcome:
    """Set-aside rows are fine up to `budget` (a share of the input rows); above it the day
    is malformed, not merely dirty, and nothing is published."""
    q = ctx.quarantine_frame
    total = ctx.input_rows or (published_rows + len(q))
    share = len(q) / total if total else 0.0
    by_reason = q["_reason"].value_counts().sort_index().to_dict() if len(q) else {}
    passed = share <= budget
    top = sorted(by_reason.items(), key=lambda kv: -kv[1])[:5]
    top_reasons = ", ".join(f"{reason} ({n})" for reason, n in top)
    problem = (
        ""
        if passed
        else f"{len(q)} of {total} rows ({share:.1%}) were quarantined, above the budget of "
        f"{budget:.1%}: {top_reasons}"
    )
    return Outcome(
        QUARANTINE_CHECK,
        ctx.partition,
        passed,
        problem,
        total,
        len(q),
        sample=q.head(SAMPLE_ROWS),
        metadata={
            "quarantined_share": MetadataValue.float(share),
            "budget": MetadataValue.float(budget),
            "quarantined_by_reason": MetadataValue.json(
                {str(k): int(v) for k, v in by_reason.items()}
            ),
        },
    )


def check_evaluation(
    asset_key: AssetKey,
    outcome: Outcome,
    *,
    blocking: bool,
    target: AssetCheckEvaluationTargetMaterializationData | None,
    note: str | None = None,
) -> AssetCheckEvaluation:
    """One check on one partition as its own evaluation naming the partition: an
    `AssetCheckResult` names one only in a single-partition run, and a backfill batch checks
    many days in one run; each day's result must show how close it came to failing."""
    meta: dict[str, Any] = {
        "rows_checked": MetadataValue.int(outcome.rows),
        "failing_row_count": MetadataValue.int(outcome.failing_rows),
        **outcome.metadata,
    }
    if not outcome.passed:
        meta["problem"] = MetadataValue.text(outcome.problem)
        if outcome.sample is not None:
            meta["failing_rows_sample"] = MetadataValue.md(markdown(outcome.sample))
        if outcome.cases is not None:
            meta["failure_cases"] = MetadataValue.md(markdown(outcome.cases.head(20)))
    elif outcome.check == QUARANTINE_CHECK and outcome.failing_rows and outcome.sample is not None:
        meta["quarantined_rows_sample"] = MetadataValue.md(markdown(outcome.sample))
    return AssetCheckEvaluation(
        asset_key=asset_key,
        check_name=outcome.check,
        passed=outcome.passed,
        metadata=meta,
        target_materialization_data=target,
        severity=AssetCheckSeverity.ERROR,
        description=outcome.problem or note,
        blocking=blocking,
        partition=outcome.partition,
    )


def preview(df: pd.DataFrame) -> str:
    """The first rows and columns of a published partition as a markdown table: a look at the
    data on the materialization's page that costs the same for a wide or a huge frame."""
    head = df.iloc[:PREVIEW_ROWS, :PREVIEW_COLUMNS]
    more = len(df.columns) - len(head.columns)
    caption = f"First {len(head)} of {len(df)} rows" + (f", {more} more columns" if more else "")
    return f"{markdown(head)}\n\n{caption}."


def markdown(df: pd.DataFrame) -> str:
    """A small markdown table (values cut to a readable width) for metadata."""
    rows = [df.columns, *df.itertuples(index=False)]
    lines = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    lines.insert(1, "|" + "---|" * len(df.columns))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    try:
        missing = value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        missing = False
    text = "" if missing else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= _CELL else text[: _CELL - 1] + "…"
