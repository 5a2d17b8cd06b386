"""Column types kept beside the data, so our own readers parse each column back to the type it
was written with: CSV alone would turn a float column of whole numbers into ints, and a
string column of ISO dates into dates. Foreign readers just see a CSV."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import pandas as pd
import pyarrow as pa

_TIMESTAMP = re.compile(r"timestamp\[(s|ms|us|ns)(?:, tz=(.+))?\]")


def describe(df: pd.DataFrame) -> list[dict[str, str]]:
    """`[{"name", "type"}]` in Arrow's type names, as the CSV writer will see the frame."""
    schema = pa.Schema.from_pandas(df, preserve_index=False)
    return [{"name": f.name, "type": str(f.type)} for f in schema]


def parse_type(name: str) -> pa.DataType | None:
    """An Arrow type from its name; None for types CSV cannot pin (left to inference)."""
    if m := _TIMESTAMP.fullmatch(name):
        return pa.timestamp(m.group(1), m.group(2))
    if name in ("large_string", "string"):
        return pa.string()
    try:
        found = pa.type_for_alias(name)
    except (KeyError, ValueError):
        return None
    return found if not pa.types.is_nested(found) else None


def column_types(columns: Sequence[Mapping[str, str]] | None) -> dict[str, pa.DataType]:
    found: dict[str, pa.DataType] = {}
    for col in columns or ():
        if (t := parse_type(str(col.get("type", "")))) is not None:
            found[str(col.get("name"))] = t
    return found
