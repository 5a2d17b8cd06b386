"""The `gros://REPO[/BRANCH][:TAG]` grammar of spec §4, and its errors, before any I/O."""

from __future__ import annotations

import pandas as pd
import pytest

from lake_assets.lake import InvalidUri, Lake, TagKind, parse_uri
from lake_assets.lake.contract.keys import DatasetId


@pytest.mark.parametrize(
    ("uri", "repo", "branch", "kind", "date", "index"),
    [
        ("gros://flights", "flights", "master", TagKind.NONE, None, None),
        ("gros://flights/dev", "flights", "dev", TagKind.NONE, None, None),
        ("gros://flights/feature/x", "flights", "feature/x", TagKind.NONE, None, None),
        ("gros://flights/feature/x:latest", "flights", "feature/x", TagKind.LATEST, None, None),
        ("gros://flights:latest", "flights", "master", TagKind.LATEST, None, None),
        ("gros://r/a/b/c:2024-02-29", "r", "a/b/c", TagKind.DATE, "2024-02-29", None),
        ("gros://r:0", "r", "master", TagKind.INDEX, None, 0),
        ("gros://r/b:1", "r", "b", TagKind.INDEX, None, 1),
        ("gros://r/b:+1", "r", "b", TagKind.INDEX, None, 1),
        ("gros://r/b:-1", "r", "b", TagKind.INDEX, None, -1),
        ("gros://flights/master:-2", "flights", "master", TagKind.INDEX, None, -2),
        ("gros://r/x@y:-10", "r", "x@y", TagKind.INDEX, None, -10),
    ],
)
def test_parse(
    uri: str, repo: str, branch: str, kind: TagKind, date: str | None, index: int | None
) -> None:
    u = parse_uri(uri)
    assert (u.repo, u.branch, u.kind, u.date, u.index) == (repo, branch, kind, date, index)
    assert u.dataset == DatasetId(repo, branch)


@pytest.mark.parametrize(
    "uri", ["gros://r/feature/x", "gros://r/b:latest", "gros://r/b:2024-01-01", "gros://r/b:-2"]
)
def test_str_round_trips(uri: str) -> None:
    assert str(parse_uri(uri)) == uri
    assert parse_uri(str(parse_uri(uri))) == parse_uri(uri)


def test_default_branch_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKE_DEFAULT_BRANCH", "main")
    assert parse_uri("gros://r:latest").branch == "main"
    assert parse_uri("gros://r/dev").branch == "dev"
    monkeypatch.delenv("LAKE_DEFAULT_BRANCH")
    assert parse_uri("gros://r").branch == "master"


def test_default_branch_argument() -> None:
    assert parse_uri("gros://r", branch="trunk").branch == "trunk"


@pytest.mark.parametrize(
    ("uri", "names"),
    [
        ("flights/master", ["'flights/master'", "gros://REPO[/BRANCH][:TAG]"]),
        ("s3://flights/master", ["gros://REPO[/BRANCH][:TAG]"]),
        ("gros://", ["invalid repo ''", "1 to 100 characters"]),
        ("gros://r:", ["tag after ':' is empty"]),
        ("gros://r/:latest", ["branch after '/' is empty"]),
        ("gros://r/", ["branch after '/' is empty"]),
        ("gros://..", ["invalid repo '..'", "not starting with '.'"]),
        ("gros://../x", ["invalid repo '..'"]),
        ("gros:///x", ["invalid repo ''"]),
        ("gros://-x", ["invalid repo '-x'"]),
        ("gros://.x", ["invalid repo '.x'"]),
        ("gros://" + "x" * 101, ["invalid repo", "1 to 100 characters"]),
        ("gros://r/..", ["invalid branch '..'", "'..'"]),
        ("gros://r/a..b", ["invalid branch 'a..b'"]),
        ("gros://r/a@{1}", ["invalid branch 'a@{1}'", "'@{'"]),
        ("gros://r/x.lock", ["invalid branch 'x.lock'", ".lock"]),
        ("gros://r/x/", ["invalid branch 'x/'", "empty path component"]),
        ("gros://r/a//b", ["invalid branch 'a//b'", "empty path component"]),
        ("gros://r/a\tb", ["invalid branch", "forbidden character '\\t'"]),
        ("gros://r/a b", ["invalid branch 'a b'", "forbidden character ' '"]),
        ("gros://r/a~b", ["forbidden character '~'"]),
        ("gros://r/a^b", ["forbidden character '^'"]),
        ("gros://r/a?b", ["forbidden character '?'"]),
        ("gros://r/a*b", ["forbidden character '*'"]),
        ("gros://r/a[b", ["forbidden character '['"]),
        ("gros://r/a\\b", ["forbidden character '\\\\'"]),
        ("gros://r/a:b:latest", ["invalid branch 'a:b'", "forbidden character ':'"]),
        ("gros://r/HEAD", ["invalid branch 'HEAD'", "reserved"]),
        ("gros://r:2013-02-30", ["'2013-02-30'", "YYYY-MM-DD"]),
        ("gros://r:2024-1-1", ["'2024-1-1'"]),
        ("gros://r:foo", ["tag 'foo'", "'latest'", "signed integer"]),
        ("gros://r:LATEST", ["tag 'LATEST'"]),
        ("gros://r:1.5", ["tag '1.5'"]),
        ("gros://r:--1", ["tag '--1'"]),
        ("gros://r:\u0661", ["tag '\u0661'"]),
    ],
)
def test_error_names_value_and_rule(uri: str, names: list[str]) -> None:
    with pytest.raises(InvalidUri) as e:
        parse_uri(uri)
    message = str(e.value)
    assert repr(uri) in message
    for part in names:
        assert part in message


def test_bad_date_tag_says_it_is_not_a_calendar_date() -> None:
    with pytest.raises(InvalidUri, match=r"'2013-02-30'.*calendar"):
        parse_uri("gros://r:2013-02-30")


def test_non_string_uri() -> None:
    with pytest.raises(InvalidUri, match="gros://REPO"):
        parse_uri(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "uri", ["gros://../x:latest", "gros://r/x.lock", "gros://r:foo", "gros://r:2013-02-30"]
)
def test_errors_come_before_any_io(uri: str) -> None:
    """A lake whose endpoint is dead still answers a bad URI with InvalidUri."""
    dead = Lake.open("s3://some-bucket/lake", endpoint_url="http://127.0.0.1:9")
    for call in (dead.read, dead.resolve, dead.pick):
        with pytest.raises(InvalidUri):
            call(uri)


def test_bad_names_in_publish_come_before_any_io() -> None:
    from lake_assets.lake.contract.errors import InvalidName

    dead = Lake.open("s3://some-bucket/lake", endpoint_url="http://127.0.0.1:9")
    df = pd.DataFrame({"a": [1]})
    with pytest.raises(InvalidName, match="'2013-02-30'"):
        dead.publish(df, DatasetId("r", "b"), "2013-02-30")
    with pytest.raises(InvalidName, match=r"'\.\.'"):
        dead.publish(df, DatasetId("..", "b"), "2024-01-01")
