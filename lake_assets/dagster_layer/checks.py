"""A dataset's pandera schema as Dagster sees it: the output's DagsterType, the table-schema
metadata, and the blocking checks that run in the asset body before anything is published.

(dagster-pandera does this too, but it does not support pandas 3.)
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pandera.pandas as pa
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    DagsterType,
    MetadataValue,
    TableColumn,
    TableColumnConstraints,
    TableSchema,
    TypeCheck,
)

from lake_assets.dagster_layer.context import DatasetContext

SchemaLike = pa.DataFrameSchema | type[pa.DataFrameModel]
SCHEMA_CHECK = "schema"
QUARANTINE_CHECK = "quarantine_budget"
SAMPLE_ROWS = 10
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
    columns = []
    for name, col in schema.columns.items():
        columns.append(
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
        )
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
    metadata: dict[str, Any] = field(default_factory=dict)


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
    rows_idx = pd.Index(cases["index"].dropna().unique())
    whole_frame = cases["index"].isna().any()
    failing = len(df) if whole_frame else len(rows_idx)
    sample = df.loc[df.index.intersection(rows_idx)].head(SAMPLE_ROWS)
    frame_level = cases[cases["index"].isna()]
    row_level = cases[cases["index"].notna()]
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
    problem = (
        ""
        if passed
        else f"{len(q)} of {total} rows ({share:.1%}) were quarantined, above the budget of "
        f"{budget:.1%}: {_reasons_text(by_reason)}"
    )
    return Outcome(
        QUARANTINE_CHECK,
        ctx.partition,
        passed,
        problem,
        total,
        len(q),
        sample=q.head(SAMPLE_ROWS),
        metadata={"quarantined_by_reason": {str(k): int(v) for k, v in by_reason.items()}},
    )


def _reasons_text(by_reason: Mapping[Any, int]) -> str:
    top = sorted(by_reason.items(), key=lambda kv: -kv[1])[:5]
    return ", ".join(f"{reason} ({n})" for reason, n in top)


def check_result(check: str, outcomes: Sequence[Outcome]) -> AssetCheckResult:
    """One result per check per run: a range run reports every partition it checked."""
    failing = [o for o in outcomes if not o.passed]
    meta: dict[str, Any] = {
        "partitions_checked": len(outcomes),
        "rows_checked": sum(o.rows for o in outcomes),
        "failing_row_count": sum(o.failing_rows for o in outcomes),
    }
    if check == QUARANTINE_CHECK:
        totals: dict[str, int] = {}
        for o in outcomes:
            for reason, n in o.metadata.get("quarantined_by_reason", {}).items():
                totals[reason] = totals.get(reason, 0) + n
        meta["quarantined_by_reason"] = MetadataValue.json(totals)
    if failing:
        first = failing[0]
        meta["failing_partitions"] = MetadataValue.json([o.partition for o in failing])
        meta["problem"] = MetadataValue.text(first.problem)
        if first.sample is not None:
            meta["failing_rows_sample"] = MetadataValue.md(markdown(first.sample))
        if first.cases is not None:
            meta["failure_cases"] = MetadataValue.md(markdown(first.cases.head(20)))
    elif check == QUARANTINE_CHECK and (samples := [o.sample for o in outcomes if o.failing_rows]):
        meta["quarantined_rows_sample"] = MetadataValue.md(markdown(samples[-1]))
    return AssetCheckResult(
        check_name=check,
        passed=not failing,
        severity=AssetCheckSeverity.ERROR,
        metadata=meta,
        description=failing[0].problem if failing else None,
    )


def markdown(df: pd.DataFrame) -> str:
    """A small markdown table (values cut to a readable width) for check metadata."""
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        cells = [_cell(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    try:
        missing = value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        missing = False
    text = "" if missing else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= _CELL else text[: _CELL - 1] + "…"
