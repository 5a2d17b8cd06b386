"""What differs between two frames, or between the two versions two `gros://` URIs name.

Rows are matched with pandas itself (`DataFrame.merge(..., indicator=True)`), no join engine
of our own:

- with a key, on the key columns, which must exist and be unique on both sides; a matched row
  whose other common columns differ is *changed*, and each differing cell is counted per column;
- without a key, the rows are multisets of whole rows over the columns both sides have: each
  distinct row gets a number (`groupby(...).ngroup()` over both sides), each row is the n-th of
  its equal rows (`cumcount()`), and the sides merge on (number, n), so a row present twice in
  A and once in B is removed once.

Row order is never a difference. Column order is: `columns_reordered` (a schema change).

Cells (and whole rows without a key) compare by value:

- nulls are equal to each other whatever their kind (NaN, None, pd.NA, NaT), and a null against a
  value is a change;
- numbers compare by numeric value across dtypes: int64 1 equals float64 1.0 and Int64 1, while
  the schema still reports the dtype change (`type_changes`);
- otherwise both sides compare with pandas `==` when they are of the same kind (strings,
  booleans, datetimes of one timezone, ...) or one side is `object`; values of different kinds
  (bool True against int 1, the string "2024-01-01" against a datetime, naive against
  timezone-aware datetimes) are never equal.

Floats compare exactly (the CSV codec round-trips float64 exactly). Example rows are
JSON-ready: nulls as None, timestamps as ISO-8601 strings, numpy scalars as Python values.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from lake_assets.lake.contract.errors import LakeError

if TYPE_CHECKING:
    from lake_assets.lake.contract.refs import GrosRef
    from lake_assets.lake.lake import Lake

EXAMPLES = 5
"""Example rows kept of each kind (added, removed, changed) by default."""
_SHOWN_KEYS = 5
"""Duplicate key values an error names at most."""


class DiffError(LakeError, ValueError):
    """Two frames cannot be compared as asked: a key column missing from a side, a key that is
    not unique on a side, or key columns whose values cannot be matched."""


@dataclass(frozen=True)
class FrameDiff:
    """What differs between frame A and frame B (see the module's docstring for the rules)."""

    key: tuple[str, ...] | None
    columns_added: tuple[str, ...]
    """Columns only B has, in B's order."""
    columns_removed: tuple[str, ...]
    """Columns only A has, in A's order."""
    columns_reordered: bool
    """The columns both have are in another order in B."""
    type_changes: dict[str, tuple[str, str]]
    """Common column -> (dtype in A, dtype in B), where they differ."""
    rows_a: int
    rows_b: int
    rows_added: int
    rows_removed: int
    rows_changed: int
    """Matched rows (by key) with at least one differing cell; 0 without a key."""
    changed_cells: dict[str, int]
    """Common non-key column -> cells that differ in matched rows, only where > 0."""
    added_examples: list[dict[str, Any]] = field(default_factory=list)
    """The first added rows (B's order), whole, as in B."""
    removed_examples: list[dict[str, Any]] = field(default_factory=list)
    """The first removed rows (A's order), whole, as in A."""
    changed_examples: list[dict[str, Any]] = field(default_factory=list)
    """The first changed rows (A's order): `{"key": {col: value}, "changes": {col: {"a": old,
    "b": new}}}`."""

    @property
    def schema_equal(self) -> bool:
        return not (
            self.columns_added
            or self.columns_removed
            or self.columns_reordered
            or self.type_changes
        )

    @property
    def rows_equal(self) -> bool:
        return not (self.rows_added or self.rows_removed or self.rows_changed)

    @property
    def equal(self) -> bool:
        return self.schema_equal and self.rows_equal

    def to_json(self) -> dict[str, Any]:
        return {
            "equal": self.equal,
            "key": None if self.key is None else list(self.key),
            "columns_added": list(self.columns_added),
            "columns_removed": list(self.columns_removed),
            "columns_reordered": self.columns_reordered,
            "type_changes": {c: {"a": a, "b": b} for c, (a, b) in self.type_changes.items()},
            "rows_a": self.rows_a,
            "rows_b": self.rows_b,
            "rows_added": self.rows_added,
            "rows_removed": self.rows_removed,
            "rows_changed": self.rows_changed,
            "changed_cells": dict(self.changed_cells),
            "examples": {
                "added": self.added_examples,
                "removed": self.removed_examples,
                "changed": self.changed_examples,
            },
        }


def diff_frames(
    a: pd.DataFrame,
    b: pd.DataFrame,
    key: Sequence[str] | None = None,
    examples: int = EXAMPLES,
    *,
    labels: tuple[str, str] = ("A", "B"),
) -> FrameDiff:
    """What differs from `a` to `b`: by `key` when given, else as multisets of whole rows.
    `labels` name the two sides in errors (the CLI passes the URIs)."""
    for frame, label in zip((a, b), labels, strict=True):
        _check_columns(frame, label)
    a, b = a.rename(columns=str), b.rename(columns=str)  # a lake's names are str already
    examples = max(examples, 0)
    cols_a, cols_b = list(a.columns), list(b.columns)
    in_a, in_b = set(cols_a), set(cols_b)
    common = [c for c in cols_a if c in in_b]
    keys = _check_key(key, in_a, in_b, labels) if key is not None else None
    type_changes = {
        c: (str(a[c].dtype), str(b[c].dtype)) for c in common if a[c].dtype != b[c].dtype
    }
    base = {
        "key": keys,
        "columns_added": tuple(c for c in cols_b if c not in in_a),
        "columns_removed": tuple(c for c in cols_a if c not in in_b),
        "columns_reordered": common != [c for c in cols_b if c in in_a],
        "type_changes": type_changes,
        "rows_a": len(a),
        "rows_b": len(b),
    }
    if keys is None:
        return FrameDiff(**base, **_multiset(a, b, common, examples))
    others = [c for c in common if c not in keys]
    return FrameDiff(**base, **_keyed(a, b, list(keys), others, examples, labels))


def diff_uris(
    lake: Lake,
    a: str,
    b: str,
    key: Sequence[str] | None = None,
    examples: int = EXAMPLES,
) -> tuple[FrameDiff, GrosRef, GrosRef]:
    """Read the versions two URIs name, one after the other, and diff them; the refs say
    exactly which versions were read (sha256 included). Reading both at once in two threads
    was slower on 2 cores, locally and on S3 (bench/diff_bench.py --concurrent): the reads
    are CPU-bound, and each already decodes and hashes in threads of its own."""
    df_a, ref_a = lake.read_with_ref(a)
    df_b, ref_b = lake.read_with_ref(b)
    return diff_frames(df_a, df_b, key, examples, labels=(a, b)), ref_a, ref_b


def _check_columns(frame: pd.DataFrame, label: str) -> None:
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise DiffError(f"{label} has duplicate column names: {', '.join(map(repr, twice))}")


def _check_key(
    key: Sequence[str], in_a: set[str], in_b: set[str], labels: tuple[str, str]
) -> tuple[str, ...]:
    if isinstance(key, str):
        key = [key]
    keys = tuple(key)
    if not keys:
        raise DiffError("the key names no column (give one or more: --key COL,...)")
    if len(set(keys)) != len(keys):
        raise DiffError(f"the key names a column twice: {', '.join(keys)}")
    for label, present in zip(labels, (in_a, in_b), strict=True):
        missing = [k for k in keys if k not in present]
        if missing:
            raise DiffError(
                f"key column {', '.join(map(repr, missing))} is not a column of {label} "
                f"(its columns: {_names(present)})"
            )
    return keys


def _names(columns: set[str]) -> str:
    shown = sorted(columns)
    return ", ".join(shown[:20]) + (f", ... ({len(shown)} in all)" if len(shown) > 20 else "")


def _check_unique(frame: pd.DataFrame, keys: list[str], label: str) -> None:
    duplicated = frame.duplicated(keys, keep=False)
    if not duplicated.any():
        return
    counts = frame[duplicated].groupby(keys, dropna=False, sort=False).size()
    shown = [f"{_key_text(k, len(keys))} ({n} rows)" for k, n in counts.head(_SHOWN_KEYS).items()]
    more = f" and {len(counts) - _SHOWN_KEYS} more" if len(counts) > _SHOWN_KEYS else ""
    raise DiffError(
        f"key ({', '.join(keys)}) is not unique in {label}: {'; '.join(shown)}{more} "
        f"(a key must name one row on each side; without --key rows compare as multisets)"
    )


def _key_text(value: Hashable, width: int) -> str:
    values = value if width > 1 and isinstance(value, tuple) else (value,)
    return ", ".join(repr(_jsonable(v)) for v in values)


def _kind(s: pd.Series) -> str:
    d = s.dtype
    if ptypes.is_bool_dtype(d):
        return "bool"
    if ptypes.is_numeric_dtype(d):
        return "number"
    if isinstance(d, pd.DatetimeTZDtype):
        return f"datetime {d.tz}"
    if ptypes.is_datetime64_dtype(d):
        return "datetime"
    if ptypes.is_timedelta64_dtype(d):
        return "timedelta"
    if isinstance(d, pd.CategoricalDtype) or ptypes.is_object_dtype(d):
        return "object"
    if ptypes.is_string_dtype(d):
        return "string"
    return str(d)


def _comparable(x: pd.Series, y: pd.Series) -> tuple[pd.Series, pd.Series]:
    """`x` and `y` as two series of one dtype whose `==` (and whose merge) follows the rules
    of the module's docstring; nulls stay null."""
    if x.dtype == y.dtype and not isinstance(x.dtype, pd.CategoricalDtype):
        return x, y
    kx, ky = _kind(x), _kind(y)
    if kx == ky == "number":
        if ptypes.is_float_dtype(x.dtype) or ptypes.is_float_dtype(y.dtype):
            return _floats(x), _floats(y)
        try:
            return x.astype("Int64"), y.astype("Int64")
        except (OverflowError, TypeError, ValueError):  # uint64 beyond int64
            return x.astype(object), y.astype(object)
    if kx == ky or "object" in (kx, ky):
        return _objects(x), _objects(y)
    # values of different kinds are never equal: only where both are null
    return _marks(x, 0.0), _marks(y, 1.0)


def _floats(s: pd.Series) -> pd.Series:
    return pd.Series(s.to_numpy(dtype="float64", na_value=np.nan), index=s.index)


def _objects(s: pd.Series) -> pd.Series:
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(s.cat.categories.dtype)
    return s.astype(object)


def _marks(s: pd.Series, mark: float) -> pd.Series:
    return pd.Series(np.where(s.isna().to_numpy(), np.nan, mark), index=s.index)


def _unequal(x: pd.Series, y: pd.Series) -> np.ndarray:
    """Per position, whether x and y differ (both series of the same length)."""
    x, y = _comparable(x.reset_index(drop=True), y.reset_index(drop=True))
    x_null, y_null = x.isna().to_numpy(), y.isna().to_numpy()
    unequal = x_null != y_null
    valued = ~(x_null | y_null)
    if not valued.any():
        return unequal
    if not valued.all():  # compare values only: pd.NA in an object column has no `==`
        x, y = x[valued].reset_index(drop=True), y[valued].reset_index(drop=True)
    try:
        same = x.eq(y)
    except TypeError:  # pandas refuses to compare these values as they are
        same = _objects(x).eq(_objects(y))
    unequal[valued] = ~same.fillna(False).to_numpy(dtype=bool)
    return unequal


def _keyed(
    a: pd.DataFrame,
    b: pd.DataFrame,
    keys: list[str],
    others: list[str],
    examples: int,
    labels: tuple[str, str],
) -> dict[str, Any]:
    _check_unique(a, keys, labels[0])
    _check_unique(b, keys, labels[1])
    left, right = {}, {}
    for i, k in enumerate(keys):
        if _kind(a[k]) != _kind(b[k]) and "object" not in (_kind(a[k]), _kind(b[k])):
            raise DiffError(
                f"key column {k!r} is {a[k].dtype} in {labels[0]} and {b[k].dtype} in "
                f"{labels[1]}: rows cannot be matched by it (without --key rows compare as "
                f"multisets)"
            )
        left[f"k{i}"], right[f"k{i}"] = _comparable(a[k], b[k])
    matched = _match(left, right, len(a), len(b), [f"k{i}" for i in range(len(keys))])
    removed, added, pos_a, pos_b = matched
    changed_rows = np.zeros(len(pos_a), dtype=bool)
    changed_cells: dict[str, int] = {}
    per_column: dict[str, np.ndarray] = {}
    for c in others:
        unequal = _unequal(a[c].take(pos_a), b[c].take(pos_b))
        n = int(unequal.sum())
        if n:
            changed_cells[c] = n
            per_column[c] = unequal
            changed_rows |= unequal
    shown = np.flatnonzero(changed_rows)[:examples]
    changed_examples = [
        {
            "key": _row(a, keys, int(pos_a[i])),
            "changes": {
                c: {"a": _jsonable(a[c].iat[pos_a[i]]), "b": _jsonable(b[c].iat[pos_b[i]])}
                for c, unequal in per_column.items()
                if unequal[i]
            },
        }
        for i in shown
    ]
    return {
        "rows_added": len(added),
        "rows_removed": len(removed),
        "rows_changed": int(changed_rows.sum()),
        "changed_cells": changed_cells,
        "added_examples": _rows(b, added[:examples]),
        "removed_examples": _rows(a, removed[:examples]),
        "changed_examples": changed_examples,
    }


def _multiset(a: pd.DataFrame, b: pd.DataFrame, common: list[str], examples: int) -> dict[str, Any]:
    """Rows as multisets: each distinct row (over the common columns, both sides at once)
    gets a number, `groupby(...).ngroup()`; each row is then the n-th of its equal rows,
    `cumcount()`, and the sides merge on (row number, n). One groupby of both sides is much
    cheaper than merging on every column (1M rows x 6 columns: 3.1 s against 5.3 s)."""
    pairs = [_comparable(a[c], b[c]) for c in common]
    if pairs:
        on = [f"c{i}" for i in range(len(pairs))]
        rows = pd.concat(
            [
                pd.DataFrame(dict(zip(on, side, strict=True)), copy=False).reset_index(drop=True)
                for side in zip(*pairs, strict=True)
            ],
            ignore_index=True,
        )
        row = rows.groupby(on, dropna=False, sort=False).ngroup().to_numpy()
        del rows
    else:  # no common column: every row equals every other
        row = np.zeros(len(a) + len(b), dtype=np.int64)
    left = {"row": pd.Series(row[: len(a)])}
    right = {"row": pd.Series(row[len(a) :])}
    for side in (left, right):  # the how-manieth of its equal rows each row is
        side["n"] = side["row"].groupby(side["row"].to_numpy(), sort=False).cumcount()
    removed, added, _, _ = _match(left, right, len(a), len(b), ["row", "n"])
    return {
        "rows_added": len(added),
        "rows_removed": len(removed),
        "rows_changed": 0,
        "changed_cells": {},
        "added_examples": _rows(b, added[:examples]),
        "removed_examples": _rows(a, removed[:examples]),
        "changed_examples": [],
    }


def _match(
    left: dict[str, pd.Series], right: dict[str, pd.Series], n_a: int, n_b: int, on: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Merge two frames of internal column names on `on`: the positions in A of rows only A
    has, in B of rows only B has (both ascending), and of the matched pairs (A's order)."""
    frame_a = pd.DataFrame({**_reindexed(left), "pa": np.arange(n_a)}, copy=False)
    frame_b = pd.DataFrame({**_reindexed(right), "pb": np.arange(n_b)}, copy=False)
    merged = frame_a.merge(frame_b, on=on, how="outer", indicator="which", sort=False)
    which = merged["which"].cat.codes.to_numpy()  # left_only, right_only, both
    pa_ = merged["pa"].to_numpy()
    pb_ = merged["pb"].to_numpy()
    removed = np.sort(pa_[which == 0].astype(np.int64))
    added = np.sort(pb_[which == 1].astype(np.int64))
    both = which == 2
    pos_a, pos_b = pa_[both].astype(np.int64), pb_[both].astype(np.int64)
    order = np.argsort(pos_a, kind="stable")
    return removed, added, pos_a[order], pos_b[order]


def _reindexed(columns: dict[str, pd.Series]) -> dict[str, pd.Series]:
    return {name: s.reset_index(drop=True) for name, s in columns.items()}


def _rows(frame: pd.DataFrame, positions: np.ndarray) -> list[dict[str, Any]]:
    return [_row(frame, list(frame.columns), int(p)) for p in positions]


def _row(frame: pd.DataFrame, columns: list[Any], position: int) -> dict[str, Any]:
    return {str(c): _jsonable(frame[c].iat[position]) for c in columns}


def _jsonable(value: Any) -> Any:
    """A cell as JSON can hold it: nulls None, times ISO-8601, numpy scalars as Python's,
    non-finite floats as the strings "inf", "-inf"."""
    if value is None or (
        not isinstance(value, list | tuple | dict | np.ndarray) and pd.isna(value)
    ):
        return None
    if isinstance(value, np.datetime64 | np.timedelta64):
        value = pd.Timestamp(value) if isinstance(value, np.datetime64) else pd.Timedelta(value)
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, pd.Timedelta | dt.timedelta):
        return pd.Timedelta(value).isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)
