"""Column types kept beside the data, so our own readers parse each column back to the type it
was written with: CSV alone would turn a float column of whole numbers into ints, and a
string column of ISO dates into dates. Foreign readers just see a CSV."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import pandas as pd
import pyarrow as pa

_TIMESTAMP = re.compile(r"timestamp\[(s|ms|us|ns)(?:, tz=(.+))?\]")
_INT64 = range(-(2**63), 2**63)
_DECIMAL_DIGITS = 76
"""The most digits `decimal256` holds: wider integers are written as (quoted) text."""


class IntegerType(pa.ExtensionType):
    """Integers of any size, as their decimal text: a column of Python ints that int64 cannot
    hold (pandas keeps them in an object column; no Arrow type holds them all). Recorded as
    `INTEGER`; a reader parses the column as text and makes Python ints of it."""

    def __init__(self) -> None:
        super().__init__(pa.string(), "lake_assets.integer")

    def __arrow_ext_serialize__(self) -> bytes:
        return b""

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: pa.DataType, serialized: bytes) -> IntegerType:
        return cls()


INTEGER = "integer"
"""The recorded type of an `IntegerType` column (pandas' `infer_dtype` name for it)."""


def arrow_table(df: pd.DataFrame) -> pa.Table:
    """The frame as Arrow, as the CSV writer will see it. Object columns of Python ints beyond
    int64, which Arrow cannot convert, become decimals with no fraction (written as plain
    digits)."""
    try:
        return pa.Table.from_pandas(df, preserve_index=False)
    except OverflowError:
        wide = _wide_integers(df)
        if not wide:
            raise
    return _with_wide(df, wide)


def describe(df: pd.DataFrame) -> list[dict[str, str]]:
    """`[{"name", "type"}]` in Arrow's type names, as the CSV writer will see the frame;
    `INTEGER` for a column of integers beyond int64."""
    wide: Mapping[int, pa.Array] = {}
    try:
        schema = pa.Schema.from_pandas(df, preserve_index=False)
    except OverflowError:
        wide = _wide_integers(df)
        if not wide:
            raise
        schema = _with_wide(df, wide).schema
    return [
        {"name": f.name, "type": INTEGER if i in wide else str(f.type)}
        for i, f in enumerate(schema)
    ]


def _wide_integers(df: pd.DataFrame) -> dict[int, pa.Array]:
    """The object columns of integers (and nulls) that int64 cannot hold, by position."""
    found: dict[int, pa.Array] = {}
    for i in range(df.shape[1]):
        col = df.iloc[:, i]
        if col.dtype != object or pd.api.types.infer_dtype(col, skipna=True) != "integer":
            continue
        values = [None if pd.isna(v) else int(v) for v in col]
        if all(v is None or v in _INT64 for v in values):
            continue
        digits = max(len(str(abs(v))) for v in values if v is not None)
        if digits <= _DECIMAL_DIGITS:
            found[i] = pa.array(values, pa.decimal256(_DECIMAL_DIGITS, 0))
        else:
            found[i] = pa.array([None if v is None else str(v) for v in values], pa.string())
    return found


def _with_wide(df: pd.DataFrame, wide: Mapping[int, pa.Array]) -> pa.Table:
    """The frame as Arrow, with `wide`'s arrays for the columns at its positions."""
    rest = pa.Table.from_pandas(
        df.iloc[:, [i for i in range(df.shape[1]) if i not in wide]], preserve_index=False
    )
    others = iter(zip(rest.schema, rest.columns, strict=True))
    fields, arrays = [], []
    for i in range(df.shape[1]):
        if i in wide:
            field, array = pa.field(str(df.columns[i]), wide[i].type), pa.chunked_array([wide[i]])
        else:
            field, array = next(others)
        fields.append(field)
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def parse_type(name: str) -> pa.DataType | None:
    """An Arrow type from its name; None for types CSV cannot pin (left to inference)."""
    if m := _TIMESTAMP.fullmatch(name):
        return pa.timestamp(m.group(1), m.group(2))
    if name in ("large_string", "string"):
        return pa.string()
    if name == INTEGER:
        return IntegerType()
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
