"""DuckDB and Polars over the lake: the rows and column types of `lake_assets.read` for every
example dataset, on a local lake and moto's S3; the plain fsspec routes and their caveats."""

from __future__ import annotations

import datetime as dt
import gzip
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import duckdb
import fsspec
import pandas as pd
import polars as pl
import pytest

import lake_assets
from lake_assets.lake import DatasetId, InvalidUri, Lake, MissingDate, UnknownDataset
from lake_assets.lake.engines import lake_tables
from lake_assets_tests.example_lake import DAY, REPOS, example_lake, kind, same_instant, values
from lake_assets_tests.raw_lake import RawLake

DUCKDB_KINDS = {
    "BOOLEAN": "bool",
    "TINYINT": "int",
    "SMALLINT": "int",
    "INTEGER": "int",
    "BIGINT": "int",
    "UTINYINT": "int",
    "USMALLINT": "int",
    "UINTEGER": "int",
    "UBIGINT": "int",
    "FLOAT": "float",
    "DOUBLE": "float",
    "VARCHAR": "string",
    "DATE": "date",
    "TIMESTAMP": "datetime",
    "TIMESTAMP WITH TIME ZONE": "datetime[UTC]",
}


def polars_kind(t: pl.DataType) -> str:
    if isinstance(t, pl.Datetime):
        return "datetime" if t.time_zone is None else f"datetime[{t.time_zone}]"
    if t == pl.Boolean:
        return "bool"
    if t.is_integer():
        return "int"
    if t.is_float():
        return "float"
    return {pl.String: "string", pl.Date: "date"}.get(t, str(t))


@pytest.fixture(scope="module", params=["local", "s3"])
def url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from example_lake(request, tmp_path_factory.mktemp("engines"))


def assert_same(expected: pd.DataFrame, names: list[str], kinds: list[str], cols: list[list]):
    assert names == list(expected.columns)
    assert kinds == [kind(expected[c]) for c in expected.columns]
    for name, got in zip(names, cols, strict=True):
        want = values(expected[name])
        assert len(got) == len(want), name
        bad = [i for i, (a, b) in enumerate(zip(got, want, strict=True)) if not same_instant(a, b)]
        assert not bad, f"{name}: row {bad[0]}: {got[bad[0]]!r} != {want[bad[0]]!r}"


@pytest.mark.parametrize("repo", REPOS)
def test_duckdb_and_polars_give_what_read_gives(url: str, repo: str) -> None:
    uri = f"gros://{repo}:{DAY}"
    expected = lake_assets.read(uri, lake_url=url)
    assert len(expected) > 0 and len(expected.columns) > 1

    rel = lake_assets.sql(f"select * from '{uri}'", lake_url=url)
    assert rel is not None
    kinds = [DUCKDB_KINDS.get(str(t), str(t)) for t in rel.types]
    assert_same(expected, rel.columns, kinds, [list(c) for c in zip(*rel.fetchall(), strict=True)])

    frame = lake_assets.read_polars(uri, lake_url=url)
    kinds = [polars_kind(t) for t in frame.dtypes]
    assert_same(expected, frame.columns, kinds, [frame[c].to_list() for c in frame.columns])


def test_tags_joins_and_names(url: str) -> None:
    tiny = DatasetId(f"tiny_{uuid_hex()}", "master")
    lake = Lake.open(url)
    lake.publish(pd.DataFrame({"n": [1, 2]}), tiny, "2024-01-01", upstreams=[])
    lake.publish(pd.DataFrame({"n": [1, 2, 3]}), tiny, "2024-01-01", upstreams=[], overwrite=True)
    lake.publish(pd.DataFrame({"n": [9]}), tiny, "2024-01-02", upstreams=[])
    count = "select count(*) from '{}'"
    for tag, rows in {"": 1, ":-1": 1, ":0": 3, ":2024-01-01": 3, ":2024-01-01@0": 2}.items():
        rel = lake_assets.sql(count.format(f"gros://{tiny.repo}{tag}"), lake_url=url)
        assert rel is not None and rel.fetchall() == [(rows,)], tag
        assert len(lake_assets.read_polars(f"gros://{tiny.repo}{tag}", lake_url=url)) == rows

    both = lake_assets.sql(
        f"select a.n, b.n from 'gros://{tiny.repo}:2024-01-01' a "
        f"left join 'gros://{tiny.repo}:2024-01-01@0' b using (n) order by a.n",
        lake_url=url,
    )
    assert both is not None and both.fetchall() == [(1, 1), (2, 2), (3, None)]
    named = lake_assets.sql(
        f"select {tiny.repo}.n from 'gros://{tiny.repo}/master:-1' join "
        f"'gros://{tiny.repo}:0' on true",
        lake_url=url,
    )
    assert named is not None and named.fetchall() == [(9,), (9,), (9,)]


def test_lake_tables_rewrites_only_table_literals() -> None:
    text, names = lake_tables(
        "SELECT 'gros://a' AS s FROM 'gros://a:-1' x JOIN\n  'gros://a:0' USING (k) "
        "join 'gros://b/it''s:latest' on true"
    )
    assert text == ('SELECT \'gros://a\' AS s FROM "a" x JOIN\n  "a_2" USING (k) join "b" on true')
    assert names == {"a": "gros://a:-1", "a_2": "gros://a:0", "b": "gros://b/it's:latest"}


def test_unknown_uris_are_the_lakes_errors_naming_them(url: str) -> None:
    for bad, error, fragment in [
        ("gros://nyc_flight", UnknownDataset, "did you mean nyc_flights"),
        (f"gros://nyc_flights:{DAY}@7", MissingDate, "gros://nyc_flights"),
        ("gros://nyc_flights:2099-01-01", MissingDate, "2099-01-01"),
        ("gros://nyc_flights:soon", InvalidUri, "tag 'soon'"),
        ("gros://../x", InvalidUri, "'..'"),
    ]:
        with pytest.raises(error, match=fragment) as caught:
            lake_assets.sql(f"select * from '{bad}'", lake_url=url)
        assert bad.split(":")[0] in str(caught.value) or bad in str(caught.value)
        with pytest.raises(error):
            lake_assets.read_polars(bad, lake_url=url)


def test_reads_through_engines_are_lineage(url: str) -> None:
    lake_assets.sql(f"select count(*) from 'gros://airlines:{DAY}'", lake_url=url)
    lake_assets.read_polars(f"gros://weather_silver:{DAY}", lake_url=url)
    down = f"down_{uuid_hex()}"
    ref = lake_assets.publish(pd.DataFrame({"x": [1]}), down, None, "2024-01-01", lake_url=url)
    record = Lake.open(url).record(ref.dataset, ref.date)
    assert record is not None
    assert sorted((u.repo, u.date) for u in record.upstreams) == [
        ("airlines", DAY),
        ("weather_silver", DAY),
    ]


def test_a_connection_of_ones_own(url: str) -> None:
    con = duckdb.connect()
    con.execute("create table wanted as select 'UA' as carrier")
    rel = lake_assets.sql(
        f"select a.name from wanted join 'gros://airlines:{DAY}' a using (carrier)",
        connection=con,
        lake_url=url,
    )
    assert rel is not None and rel.fetchall() == [("United Air Lines Inc.",)]
    assert con.sql("select count(*) from airlines").fetchall()[0][0] > 10  # the view stays


def test_the_plain_fsspec_routes(url: str, s3_endpoint: str) -> None:
    """What works without the helpers, and where its types differ from the lake's: the CSV
    sniffers see no recorded types, so a float column of whole numbers is an integer column
    and a string column of ISO dates a date column."""
    options: dict[str, Any] = {"lake_url": url}
    if url.startswith("s3://"):
        options["endpoint_url"] = s3_endpoint
    uri = f"gros://flights_silver:{DAY}"
    expected = lake_assets.read(uri, lake_url=url)
    assert (kind(expected["dep_delay"]), kind(expected["flight_date"])) == ("float", "string")

    con = duckdb.connect()
    con.register_filesystem(fsspec.filesystem("gros", **options))
    rel = con.sql(f"select * from read_csv('{uri}')")
    assert rel.columns == list(expected.columns) and len(rel.fetchall()) == len(expected)
    sniffed = dict(zip(rel.columns, map(str, rel.types), strict=True))
    assert (sniffed["dep_delay"], sniffed["flight_date"]) == ("BIGINT", "DATE")

    with fsspec.open(uri, **options) as f:
        frame = pl.read_csv(f, try_parse_dates=True)
    assert frame.columns == list(expected.columns) and len(frame) == len(expected)
    assert (frame.schema["dep_delay"], frame.schema["flight_date"]) == (pl.Int64, pl.Date)
    with pytest.raises(FileNotFoundError):  # Polars opens no fsspec scheme by itself
        pl.read_csv(uri)


def test_what_no_example_dataset_holds(lake_url: str) -> None:
    """Integers beyond int64 (Python ints in pandas) are DECIMAL(38,0); a foreign producer's
    unrecorded column of ISO dates is a date column, as pandas' `datetime.date` objects; a
    version with no columns at all is an error naming it for DuckDB, an empty frame for Polars."""
    wide = pd.Series([2**70, None, -5], dtype=object)
    days = pd.Series([dt.date(2024, 1, 1), None, dt.date(2024, 1, 3)], dtype=object)
    lake_assets.publish(pd.DataFrame({"w": wide}), "wide", None, "2024-01-01", lake_url=lake_url)
    RawLake(lake_url).put(
        DatasetId("foreign", "master").data_key("2024-01-01"),
        gzip.compress(b'd,s\n2024-01-01,"x"\n,""\n2024-01-03,\n'),
    )
    lake_assets.publish(pd.DataFrame(), "nothing", None, "2024-01-01", lake_url=lake_url)

    rel = lake_assets.sql("select * from 'gros://wide'", lake_url=lake_url)
    assert rel is not None and [str(t) for t in rel.types] == ["DECIMAL(38,0)"]
    assert [r[0] for r in rel.fetchall()] == [2**70, None, -5]
    assert lake_assets.read_polars("gros://wide", lake_url=lake_url)["w"].to_list() == [
        2**70,
        None,
        -5,
    ]

    expected = lake_assets.read("gros://foreign", lake_url=lake_url)
    assert values(expected["d"]) == days.where(days.notna(), None).tolist()
    rel = lake_assets.sql("select * from 'gros://foreign'", lake_url=lake_url)
    assert rel is not None and [str(t) for t in rel.types] == ["DATE", "VARCHAR"]
    assert rel.fetchall() == [(dt.date(2024, 1, 1), "x"), (None, ""), (dt.date(2024, 1, 3), None)]
    frame = lake_assets.read_polars("gros://foreign", lake_url=lake_url)
    assert frame.dtypes == [pl.Date, pl.String] and frame["s"].to_list() == ["x", "", None]

    with pytest.raises(duckdb.Error, match="gros://nothing has no columns"):
        lake_assets.sql("select * from 'gros://nothing'", lake_url=lake_url)
    assert lake_assets.read_polars("gros://nothing", lake_url=lake_url).shape == (0, 0)


def test_import_lake_assets_stays_cheap() -> None:
    code = (
        "import sys, lake_assets; lake_assets.sql; lake_assets.read_polars\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('duckdb', 'polars')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_polars_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "polars", None)
    with pytest.raises(ImportError, match=r"lake_assets\[polars\]"):
        lake_assets.read_polars("gros://anything")


def uuid_hex() -> str:
    return uuid.uuid4().hex[:8]
