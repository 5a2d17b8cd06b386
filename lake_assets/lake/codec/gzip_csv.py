"""The data object's bytes: gzip UTF-8 CSV, formatted and parsed by pyarrow, deflated by isal.

pyarrow formats and parses CSV in C++, and isal's gzip is much faster than zlib at a similar
ratio. Nulls are unquoted empty fields and strings are always quoted, so a null and an empty
string stay distinct on the way back. The gzip is segmented (`segmented_gzip`): one ordinary
member for every reader, which ours inflates and parses a segment per core.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import math
import os
import zlib
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from isal import igzip, igzip_lib

from lake_assets.lake.codec import columns, segmented_gzip
from lake_assets.lake.contract.errors import CorruptObject, LakeError
from lake_assets.lake.storage.arriving import Arriving

COMPRESS_LEVEL = 3
"""isal's levels 0-3 compress at about the same speed; 3 gives the smallest objects and
inflates fastest."""
SEGMENT_TEXT = 4 << 20
"""CSV text per gzip segment: small enough to balance two cores over a 1M-row partition and to
bound what each parsing thread holds, large enough that the per-segment dictionary reset costs
no measurable ratio."""
_SLICE_ROWS = 16 * 1024
_WRITE = pacsv.WriteOptions(batch_size=_SLICE_ROWS)
_WRITE_ROWS = pacsv.WriteOptions(batch_size=_SLICE_ROWS, include_header=False)
_READ = pacsv.ReadOptions(block_size=4 << 20)
_STREAM = pacsv.ReadOptions(block_size=1 << 20)
"""Small blocks bound what the streaming reader holds beyond the table."""
_PARSE = pacsv.ParseOptions(newlines_in_values=True)
_PARSE_LINES = pacsv.ParseOptions(newlines_in_values=False)
_PARSE_SINGLE = pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False)


@dataclass(frozen=True)
class Encoded:
    """An encoded partition: the bytes to store and the facts a GrosRef carries about them."""

    data: bytes
    sha256: str
    rows: int
    newlines: bool = True
    """Whether any string value holds a line break: when none does, a reader that knows it
    can split the CSV at any line and parse the blocks in parallel."""

    @property
    def size(self) -> int:
        return len(self.data)


def encode(df: pd.DataFrame) -> Encoded:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"a dataset partition is a pandas DataFrame, not {type(df).__name__}")
    table = _compact_timestamps(columns.arrow_table(df))
    with ThreadPoolExecutor(_workers()) as pool:
        data = segmented_gzip.compress(_csv_segments(table), COMPRESS_LEVEL, pool)
    return Encoded(data, hashlib.sha256(data).hexdigest(), table.num_rows, _has_newlines(table))


def _workers() -> int:
    return max(1, min(8, len(os.sched_getaffinity(0))))


def _csv_segments(table: pa.Table) -> Iterator[bytes]:
    """The CSV text in pieces of about `SEGMENT_TEXT` that end at row boundaries; the header
    opens the first."""
    buf = io.BytesIO()
    pacsv.write_csv(table.slice(0, 0), buf, _WRITE)
    for offset in range(0, table.num_rows, _SLICE_ROWS):
        pacsv.write_csv(table.slice(offset, _SLICE_ROWS), buf, _WRITE_ROWS)
        if buf.tell() >= SEGMENT_TEXT:
            yield buf.getvalue()
            buf = io.BytesIO()
    yield buf.getvalue()


def _has_newlines(table: pa.Table) -> bool:
    for col in table.columns:
        if (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)) and pc.any(
            pc.match_substring_regex(col, "[\r\n]")
        ).as_py():
            return True
    return False


def _compact_timestamps(table: pa.Table) -> pa.Table:
    """Timestamps that are whole seconds are written as `YYYY-MM-DD HH:MM:SS` rather than
    with six zero digits of fraction, and naive ones that are all midnight as `YYYY-MM-DD`
    (as pandas writes them): less CSV to compress, inflate and parse. Readers given the
    recorded column types get microsecond timestamps back either way."""
    for i, col in enumerate(table.columns):
        if not pa.types.is_timestamp(col.type):
            continue
        compact = _as_dates(col) if col.type.tz is None else None
        if compact is None and col.type.unit != "s":
            with contextlib.suppress(pa.ArrowInvalid):
                compact = col.cast(pa.timestamp("s", col.type.tz), safe=True)
        if compact is not None:
            table = table.set_column(i, table.field(i).with_type(compact.type), compact)
    return table


def _as_dates(col: pa.ChunkedArray) -> pa.ChunkedArray | None:
    try:
        dates = col.cast(pa.date32(), safe=True)
    except pa.ArrowInvalid:
        return None
    return dates if pc.all(pc.equal(dates.cast(col.type), col)).as_py() is not False else None


def decompressing_reader(stream: IO[bytes]) -> igzip.GzipFile:
    return igzip.GzipFile(fileobj=stream, mode="rb")


class Parsed:
    """A parsed table held in one place only, so that `to_pandas` can free each Arrow column
    once its pandas copy exists: a table still referenced from a caller's variable would
    stay whole in memory until the frame is complete."""

    def __init__(self, table: pa.Table | None) -> None:
        self._table = table

    def take(self) -> pa.Table | None:
        table, self._table = self._table, None
        return table


def decode(
    data: bytes | Arriving,
    key: str,
    column_types: Mapping[str, pa.DataType] | None = None,
    newlines: bool = True,
) -> pd.DataFrame:
    return to_pandas(decode_table(data, key, column_types, newlines))


def decode_table(
    data: bytes | Arriving,
    key: str,
    column_types: Mapping[str, pa.DataType] | None = None,
    newlines: bool = True,
) -> Parsed:
    """Parse a data object without holding its whole CSV text in memory; `column_types` pins
    columns that CSV inference would get wrong, and `newlines=False` (known from the writer)
    spares the parser tracking quotes across lines. Bytes still arriving are parsed as they
    come when the object is segmented and every column typed."""
    source = data if isinstance(data, Arriving) else Arriving.complete(data, key)
    if source.upto(2) != b"\x1f\x8b":
        raise CorruptObject(f"{key} is not a gzip file (it does not start with the gzip magic)")
    typed = dict(column_types or {})
    integers = [name for name, t in typed.items() if isinstance(t, columns.IntegerType)]
    typed.update((name, pa.string()) for name in integers)
    convert = pacsv.ConvertOptions(
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
        column_types=typed,
    )
    try:
        try:
            table = _parse(source, typed, convert, newlines)
        except pa.ArrowInvalid as e:
            table = _header_only(source.whole(), convert, e)
        if table is not None:
            table = _exact_integers(table, source.whole(), key, typed, integers)
    except LakeError:  # the store failed while the bytes arrived: not the object's fault
        raise
    except (OSError, EOFError, zlib.error, igzip_lib.IsalError, segmented_gzip.BadSegment) as e:
        raise CorruptObject(f"{key} is not a valid gzip file: {e}") from None
    except (pa.ArrowInvalid, UnicodeDecodeError) as e:
        raise CorruptObject(f"{key} is not a valid UTF-8 CSV file: {e}") from None
    return Parsed(None if table is None else _check_text(table, key))


def _parse(
    source: Arriving,
    typed: Mapping[str, pa.DataType],
    convert: pacsv.ConvertOptions,
    newlines: bool,
) -> pa.Table | None:
    """When every column's type is known, stream the CSV a small block at a time: peak
    memory stays near the table's own size, and it costs less CPU than `read_csv` (less
    again when the writer recorded that no value holds a line break, so no quote needs
    tracking across lines). Else `read_csv`, which infers types from the whole file (a
    stream infers from its first block only, and would fail on a column whose later values
    need a wider type). Segmented objects with every column typed are parsed in parallel."""
    segments = segmented_gzip.index(source.upto, source.size) if typed else None
    if segments is not None:
        if not segments:
            return None
        names = _header(source.upto(segments[0].end), segments[0])
        if names is not None and all(name in typed for name in names):
            table = _parse_segments(source, segments, names, convert, newlines)
            if segmented_gzip.ends_well(source.whole(), segments):
                return table
    data = source.whole()
    with decompressing_reader(io.BytesIO(data)) as text:
        head = text.peek(1)
        if not head:
            return None
        if _single_column(text):
            # a null in a one-column table is an empty line, which must not be skipped
            with decompressing_reader(io.BytesIO(data)) as whole:
                return pacsv.read_csv(whole, _READ, _PARSE_SINGLE, convert)
        if typed:
            parse = _PARSE if newlines else _PARSE_LINES
            reader = pacsv.open_csv(text, _STREAM, parse, convert)
            if all(name in typed for name in reader.schema.names):
                return reader.read_all()
            reader.close()
    with decompressing_reader(io.BytesIO(data)) as text:
        return pacsv.read_csv(text, _READ, _PARSE, convert)


def _header(data: bytes | memoryview, first: segmented_gzip.Segment) -> list[str] | None:
    """The column names, from the first line of the first segment; None when that line is
    not a whole CSV record (a name holding a line break)."""
    line = segmented_gzip.first_line(data, first).rstrip(b"\r")
    try:
        rows = list(csv.reader([line.decode()], strict=True))
    except (UnicodeDecodeError, csv.Error):
        return None
    return rows[0] if len(rows) == 1 and line.count(b'"') % 2 == 0 else None


def _parse_segments(
    source: Arriving,
    segments: list[segmented_gzip.Segment],
    names: list[str],
    convert: pacsv.ConvertOptions,
    newlines: bool,
) -> pa.Table:
    """Inflate and parse a segment per thread (both release the GIL), each as soon as its
    bytes are in; each thread holds one segment's text at a time, parsed as one block (a
    chunk per segment: smaller blocks cost more). Empty lines are rows: our
    writer writes one only for a null in a one-column table."""
    parse = pacsv.ParseOptions(newlines_in_values=newlines, ignore_empty_lines=False)

    def one(i: int) -> pa.Table:
        text = segmented_gzip.inflate(source.upto(segments[i].end), segments[i])
        read = pacsv.ReadOptions(
            use_threads=False,
            block_size=max(len(text), 1),
            column_names=names,
            skip_rows=int(i == 0),
        )
        return pacsv.read_csv(pa.py_buffer(text), read, parse, convert)

    with ThreadPoolExecutor(min(_workers(), len(segments))) as pool:
        tables = list(pool.map(one, range(len(segments))))
    return pa.concat_tables(tables)


def _header_only(data: memoryview, convert: pacsv.ConvertOptions, e: pa.ArrowInvalid) -> pa.Table:
    """A header with no line break after it and no rows: pyarrow finds no columns in it (a
    block it cannot infer a column count from), pandas an empty frame with those columns,
    and so do we. Any other parse error is raised as it was."""
    if "Empty CSV" not in str(e):
        raise e
    with decompressing_reader(io.BytesIO(data)) as text:
        header = text.read()
    if header.endswith((b"\n", b"\r")):
        raise e
    return pacsv.read_csv(pa.py_buffer(header + b"\n"), _READ, _PARSE, convert)


_INTEGER_TEXT = r"^[+-]?[0-9]+$"
_INT64_BOUND = 2.0**63
"""A double of magnitude at least this may be an integer int64 cannot hold, rounded."""


def _exact_integers(
    table: pa.Table,
    data: memoryview,
    key: str,
    typed: Mapping[str, pa.DataType],
    integers: list[str],
) -> pa.Table:
    """Integers beyond int64 kept exact. Columns recorded as such were parsed as text and
    become `IntegerType`. A column left to inference that pyarrow made double, holding a
    value int64 cannot hold, is parsed again as text: when every value is an integer
    literal, it is kept as pandas keeps it (uint64 when every value fits one and none is
    null, else Python ints); else it stays double. Only such a rare column costs a second
    parse."""
    names = table.column_names
    for name in integers:
        if name in names:
            i = names.index(name)
            table = table.set_column(i, name, _as_integers(table.column(i), key, name))
    wide = [
        name
        for name, col in zip(names, table.columns, strict=True)
        if name not in typed and pa.types.is_floating(col.type) and _beyond_int64(col)
    ]
    if not wide or len(set(names)) != len(names):
        return table
    convert = pacsv.ConvertOptions(
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
        column_types=dict.fromkeys(wide, pa.string()),
        include_columns=wide,
    )
    parse = _PARSE_SINGLE if len(names) == 1 else _PARSE
    with decompressing_reader(io.BytesIO(data)) as text:
        texts = pacsv.read_csv(text, _READ, parse, convert)
    for name in wide:
        col = texts.column(name)
        if not pc.all(pc.match_substring_regex(col, _INTEGER_TEXT)).as_py():
            continue
        exact = None
        if not col.null_count:
            with contextlib.suppress(pa.ArrowInvalid):
                exact = col.cast(pa.uint64())
        table = table.set_column(
            names.index(name), name, _integer_column(col) if exact is None else exact
        )
    return table


def _beyond_int64(col: pa.ChunkedArray) -> bool:
    """Whether a double column holds a value of magnitude at least 2**63 (one pass, no copy)."""
    bounds = pc.min_max(col).as_py()
    low, high = bounds["min"], bounds["max"]
    return high is not None and (high >= _INT64_BOUND or low <= -_INT64_BOUND)


def _as_integers(col: pa.ChunkedArray, key: str, name: str) -> pa.ChunkedArray:
    if not pc.all(pc.match_substring_regex(col, _INTEGER_TEXT)).as_py():
        raise CorruptObject(f"{key}: column {name!r} is recorded as integers but holds other text")
    return _integer_column(col)


def _integer_column(col: pa.ChunkedArray) -> pa.ChunkedArray:
    t = columns.IntegerType()
    return pa.chunked_array([pa.ExtensionArray.from_storage(t, c) for c in col.chunks], t)


def _single_column(text: igzip.GzipFile) -> bool:
    """Whether the header names one column (read from the buffered head of the stream)."""
    head = text.peek(64 * 1024)
    line = head.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        return len(next(csv.reader([line.decode()]))) == 1
    except (UnicodeDecodeError, StopIteration, csv.Error):
        return False


def _check_text(table: pa.Table, key: str) -> pa.Table:
    """pyarrow reads bytes that are not UTF-8 as binary columns; the contract says UTF-8."""
    for name, col in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type):
            raise CorruptObject(f"{key} is not a valid UTF-8 CSV file: column {name!r}")
    return table


def to_pandas(parsed: Parsed) -> pd.DataFrame:
    """Arrow to pandas without the lossy defaults: integer and boolean columns with nulls
    become nullable dtypes (not float/object), timestamps come back in microseconds.

    Converts one column at a time and drops each Arrow column once converted, so the table
    and the frame are never whole in memory together."""
    table = parsed.take()
    if table is None:
        return pd.DataFrame()
    names = table.column_names
    converted: dict[int, pd.Series] = {}
    for i in range(len(names)):
        col = table.column(0)
        table = table.remove_column(0)
        converted[i] = _column_to_pandas(col)
        del col
    df = pd.DataFrame(converted, copy=False)
    df.columns = pd.Index(names)
    return df


def to_arrow(parsed: Parsed) -> pa.Table:
    """The table with the column types `to_pandas` gives, in Arrow: timestamps in
    microseconds, and integers beyond int64 (`IntegerType`) as `decimal128(38, 0)` where
    they fit (an engine reads no extension type), else as their decimal text."""
    table = parsed.take()
    if table is None:
        return pa.table({})
    for i, col in enumerate(table.columns):
        if isinstance(col.type, columns.IntegerType):
            texts = pa.chunked_array([c.storage for c in col.chunks], pa.string())
            try:
                fixed = texts.cast(pa.decimal128(38, 0))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                fixed = texts
        elif pa.types.is_timestamp(col.type) and col.type.unit != "us":
            try:
                fixed = col.cast(pa.timestamp("us", col.type.tz), safe=True)
            except pa.ArrowInvalid:
                continue
        else:
            continue
        table = table.set_column(i, table.field(i).with_type(fixed.type), fixed)
    return table


def _column_to_pandas(col: pa.ChunkedArray) -> pd.Series:
    if isinstance(col.type, columns.IntegerType):
        # Python ints in an object column, nulls NaN: as pandas reads integers beyond int64
        texts = (v for chunk in col.chunks for v in chunk.storage.to_pylist())
        return pd.Series([math.nan if v is None else int(v) for v in texts], dtype=object)
    if pa.types.is_timestamp(col.type) and col.type.unit != "us":
        with contextlib.suppress(pa.ArrowInvalid):
            col = col.cast(pa.timestamp("us", col.type.tz), safe=True)
    if col.null_count and (pa.types.is_integer(col.type) or pa.types.is_boolean(col.type)):
        return col.to_pandas(types_mapper=_NULLABLE.get)
    if not col.null_count and _flat_numpy(col.type):
        # Combined in Arrow's allocator, which reuses what earlier columns freed, and
        # handed to numpy without a copy.
        return pd.Series(col.combine_chunks().to_numpy(zero_copy_only=True), copy=False)
    return col.to_pandas()


def _flat_numpy(t: pa.DataType) -> bool:
    """Types whose Arrow values are numpy's without conversion and give the dtype
    `to_pandas` would."""
    return (
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or (pa.types.is_timestamp(t) and t.tz is None)
    )


_NULLABLE: dict[pa.DataType, object] = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}
