"""Names and dates of spec §2, checked against the rules (and against git itself)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess

import pytest

from lake_assets.lake.contract.errors import InvalidName
from lake_assets.lake.contract.names import (
    quote_name,
    validate_branch,
    validate_date,
    validate_repo,
)

GOOD_REPOS = ["a", "flights", "A-1.2_x", "_x", "9lives", "x" * 100, "a..b"]
BAD_REPOS = ["", "..", ".", "/x", "x/y", "-x", ".x", "x" * 101, "a b", "ü", "a:b", "a\n", "%2F"]

GOOD_BRANCHES = ["master", "feature/x", "a/b/c", "x@y", "ünï", "v1.2", "x/HEAD", "a.b/c-d_e"]
BAD_BRANCHES = {
    "": "empty",
    "..": "'..'",
    "a..b": "'..'",
    "a@{b": "'@{'",
    "x.lock": ".lock",
    "a/b.lock": ".lock",
    "a.lock/b": ".lock",
    "x/": "empty path component",
    "/x": "empty path component",
    "a//b": "empty path component",
    "a\x01b": "forbidden character",
    "a\x7fb": "forbidden character",
    "a b": "forbidden character ' '",
    "a~b": "'~'",
    "a^b": "'^'",
    "a:b": "':'",
    "a?b": "'?'",
    "a*b": "'*'",
    "a[b": "'['",
    "a\\b": "'\\\\'",
    "HEAD": "reserved",
    "-x": "starts with '-'",
    ".x": "starts with '.'",
    "a/.x": "starts with '.'",
    "x.": "ends with '.'",
}


@pytest.mark.parametrize("repo", GOOD_REPOS)
def test_good_repo(repo: str) -> None:
    assert validate_repo(repo) == repo


@pytest.mark.parametrize("repo", BAD_REPOS)
def test_bad_repo_names_value_and_rule(repo: str) -> None:
    with pytest.raises(InvalidName) as e:
        validate_repo(repo)
    assert repr(repo) in str(e.value)
    assert "1 to 100 characters" in str(e.value)


@pytest.mark.parametrize("branch", GOOD_BRANCHES)
def test_good_branch(branch: str) -> None:
    assert validate_branch(branch) == branch


@pytest.mark.parametrize(("branch", "rule"), BAD_BRANCHES.items())
def test_bad_branch_names_value_and_rule(branch: str, rule: str) -> None:
    with pytest.raises(InvalidName) as e:
        validate_branch(branch)
    message = str(e.value)
    assert repr(branch) in message
    assert rule in message
    assert "check-ref-format" in message


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_branch_rules_agree_with_git() -> None:
    """Our verdict on every listed name is git's own (`@` alone aside: git expands it)."""
    disagree = []
    for branch in [*GOOD_BRANCHES, *BAD_BRANCHES]:
        if not branch or "\x00" in branch:
            continue
        git_ok = (
            subprocess.run(
                ["git", "check-ref-format", "--branch", branch], capture_output=True, cwd="/"
            ).returncode
            == 0
        )
        ours_ok = branch in GOOD_BRANCHES
        if git_ok != ours_ok:
            disagree.append(branch)
    assert disagree == []


@pytest.mark.parametrize("date", ["2024-01-31", "2024-02-29", "1999-12-31"])
def test_good_date(date: str) -> None:
    assert validate_date(date) == date


def test_date_object_is_accepted() -> None:
    assert validate_date(dt.date(2024, 3, 1)) == "2024-03-01"


@pytest.mark.parametrize(
    "date",
    [
        "2013-02-30",
        "2023-02-29",
        "2024-13-01",
        "2024-1-01",
        "20240101",
        "2024-01-01 ",
        "",
        "\u0662\u0660\u0662\u0664-\u0660\u0661-\u0660\u0661",
        dt.datetime(2024, 1, 1),
        20240101,
    ],
)
def test_bad_date_names_value_and_rule(date: object) -> None:
    with pytest.raises(InvalidName) as e:
        validate_date(date)  # type: ignore[arg-type]
    assert repr(date) in str(e.value)


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("feature/x", "feature%2Fx"),
        ("master", "master"),
        ("a/b/c", "a%2Fb%2Fc"),
        ("x@y", "x%40y"),
        ("ü", "%C3%BC"),
        ("A-1.2_x", "A-1.2_x"),
    ],
)
def test_quote_name(name: str, quoted: str) -> None:
    assert quote_name(name) == quoted
