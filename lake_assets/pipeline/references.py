"""Reference snapshots, validated row by row with pydantic before anything is checked
against them: a broken reference must fail loudly, not quarantine every row."""

from __future__ import annotations

import pandas as pd
from pydantic import BaseModel, TypeAdapter, ValidationError

from lake_assets.pipeline.schemas import Airline, Airport


def codes(df: pd.DataFrame, model: type[BaseModel], key: str, name: str) -> frozenset[str]:
    """The valid codes of a reference; raises naming the reference and the bad rows."""
    missing = [f for f in model.model_fields if f not in df.columns]
    if missing:
        raise ValueError(f"reference {name} lacks columns {missing}")
    rows = df[list(model.model_fields)].to_dict("records")
    try:
        parsed = TypeAdapter(list[model]).validate_python(rows)  # type: ignore[valid-type]
    except ValidationError as e:
        bad = sorted({err["loc"][0] for err in e.errors()})[:5]
        raise ValueError(
            f"reference {name} has {e.error_count()} invalid values (rows {bad}): "
            f"{e.errors()[0]['msg']}"
        ) from None
    return frozenset(getattr(row, key) for row in parsed)


def carriers(airlines: pd.DataFrame) -> frozenset[str]:
    return codes(airlines, Airline, "carrier", "airlines")


def airports(df: pd.DataFrame) -> frozenset[str]:
    return codes(df, Airport, "faa", "airports")
