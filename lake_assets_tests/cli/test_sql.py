"""`lake sql`: DuckDB over lake versions, printed as a table, JSON or CSV, on a local lake and
moto's S3 holding a day of every example dataset."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest

import lake_assets
from lake_assets_tests.cli.conftest import Run, lake_cli, lake_in_process
from lake_assets_tests.example_lake import DAY, REPOS, example_lake, values


@pytest.fixture(scope="module", params=["local", "s3"])
def url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from example_lake(request, tmp_path_factory.mktemp("sql"))


@pytest.fixture
def sql(url: str):
    def run(*args: str) -> Run:
        return lake_in_process("--lake", url, "sql", *args)

    return run


def test_a_table(sql) -> None:
    out = sql(f"select carrier, name from 'gros://airlines:{DAY}' order by carrier limit 2").ok()
    lines = out.out.splitlines()
    assert any("carrier" in ln and "name" in ln for ln in lines)
    assert any("varchar" in ln for ln in lines)
    assert any("9E" in ln and "Endeavor Air Inc." in ln for ln in lines)
    assert lines[-1] == "2 rows"

    cut = sql(f"select * from 'gros://nyc_flights:{DAY}'", "--limit", "3").ok().out
    assert cut.splitlines()[-1] == "3 rows (the first 3; --limit N shows more)"
    whole = sql(f"select * from 'gros://nyc_flights:{DAY}'").ok().out
    assert whole.splitlines()[-1] == "100 rows (the first 100; --limit N shows more)"


@pytest.mark.parametrize("repo", ["carrier_ontime_daily", "flights_silver", "silver_quarantine"])
def test_json_is_what_read_gives(sql, url: str, repo: str) -> None:
    expected = lake_assets.read(f"gros://{repo}:{DAY}", lake_url=url)
    rows = sql(f"select * from 'gros://{repo}:{DAY}'", "--json").ok().json()
    assert len(rows) == len(expected) and list(rows[0]) == list(expected.columns)
    for name in expected.columns:
        want = values(expected[name])
        got = [r[name] for r in rows]
        if expected[name].dtype.kind == "M":
            want = [None if v is None else v.isoformat() for v in want]
        assert got == want, name


def test_csv_keeps_nulls_and_empty_strings_apart(sql) -> None:
    text = sql(
        "select carrier, flights, case when carrier = 'AA' then '' end as note, 'a,\"b' as q "
        f"from 'gros://carrier_ontime_daily:{DAY}' where carrier in ('AA', 'B6') "
        "order by carrier",
        "--csv",
    ).ok()
    lines = text.out.splitlines()
    assert lines[0] == "carrier,flights,note,q"
    assert lines[1].startswith('"AA",') and lines[1].endswith(',"","a,""b"')
    assert lines[2].startswith('"B6",') and lines[2].endswith(',,"a,""b"')
    parsed = list(csv.reader(io.StringIO(text.out)))
    assert [r[0] for r in parsed[1:]] == ["AA", "B6"] and parsed[1][3] == 'a,"b'


def test_tags(sql, url: str) -> None:
    n = len(lake_assets.read(f"gros://nyc_flights:{DAY}", lake_url=url))
    for tag in ("", ":-1", ":0", ":latest", f":{DAY}", f":{DAY}@0", f":{DAY}@-1"):
        got = sql(f"select count(*) as n from 'gros://nyc_flights/master{tag}'", "--json").ok()
        assert got.json() == [{"n": n}], tag
    joined = sql(
        "select count(*) as n from 'gros://flights_silver:-1' f "
        f"join 'gros://airlines:{DAY}' a using (carrier)",
        "--json",
    ).ok()
    assert joined.json()[0]["n"] == len(lake_assets.read("gros://flights_silver", lake_url=url))


def test_errors_are_one_line(sql) -> None:
    sql("select * from 'gros://nyc_flight'").error("gros://nyc_flight", "did you mean nyc_flights")
    sql("select * from 'gros://nyc_flights:2099-01-01'").error(
        "gros://nyc_flights:2099-01-01", "no data for 2099-01-01"
    )
    sql("select * from 'gros://nyc_flights:soon'").error("invalid URI", "tag 'soon'")
    sql("selec 1").error("DuckDB", "Parser Error")
    sql(f"select nope from 'gros://airlines:{DAY}'").error("DuckDB", "nope")
    both = sql("select 1", "--json", "--csv")
    assert both.code == 2 and "--json and --csv" in both.err


def test_every_example_dataset_in_one_query(sql, url: str) -> None:
    query = " union all ".join(
        f"select '{repo}' as repo, count(*) as n from 'gros://{repo}:{DAY}'" for repo in REPOS
    )
    got = sql(query, "--json").ok().json()
    expected = [
        {"repo": repo, "n": len(lake_assets.read(f"gros://{repo}:{DAY}", lake_url=url))}
        for repo in REPOS
    ]
    assert sorted(got, key=lambda r: r["repo"]) == sorted(expected, key=lambda r: r["repo"])


def test_the_installed_script(url: str) -> None:
    """A real process: DuckDB loaded, output flushed before the script's `os._exit`."""
    query = f"select count(*) as n from 'gros://airlines:{DAY}'"
    assert lake_cli("--lake", url, "sql", query, "--json").ok().json() == [{"n": 16}]
    lake_cli("--lake", url, "sql", "select * from 'gros://nope'").error("gros://nope")
