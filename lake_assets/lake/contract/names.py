"""Names and dates of GROS_SPEC §2, validated before any I/O touches them."""

from __future__ import annotations

import datetime as dt
import os
import re
from urllib.parse import quote

from lake_assets.lake.contract.errors import InvalidName

DEFAULT_BRANCH = "master"
_REPO = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_BRANCH_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def default_branch() -> str:
    """The branch a URI without one means: `LAKE_DEFAULT_BRANCH`, else `master`."""
    return os.environ.get("LAKE_DEFAULT_BRANCH") or DEFAULT_BRANCH


def validate_repo(repo: str) -> str:
    if not isinstance(repo, str) or not _REPO.fullmatch(repo):
        raise InvalidName(
            f"invalid repo {repo!r}: a repo is 1 to 100 characters of A-Z a-z 0-9 . _ -, "
            "not starting with '.' or '-'"
        )
    return repo


def branch_problem(branch: str) -> str | None:
    """Why `branch` fails `git check-ref-format --branch`, or None when it passes."""
    if not isinstance(branch, str) or not branch:
        return "it is empty"
    if branch.startswith("-"):
        return "it starts with '-'"
    if branch == "HEAD" or branch == "@":
        return f"{branch!r} is reserved"
    if m := _BRANCH_FORBIDDEN.search(branch):
        return f"it contains the forbidden character {m.group()!r}"
    if "@{" in branch:
        return "it contains '@{'"
    if ".." in branch:
        return "it contains '..'"
    if branch.startswith("/") or branch.endswith("/") or "//" in branch:
        return "it has an empty path component"
    if branch.endswith("."):
        return "it ends with '.'"
    for part in branch.split("/"):
        if part.startswith("."):
            return f"its component {part!r} starts with '.'"
        if part.endswith(".lock"):
            return f"its component {part!r} ends with '.lock'"
    return None


def validate_branch(branch: str) -> str:
    if problem := branch_problem(branch):
        raise InvalidName(
            f"invalid branch {branch!r}: {problem} (branches follow git check-ref-format --branch)"
        )
    return branch


def validate_date(date: str | dt.date) -> str:
    """Return the partition date as `YYYY-MM-DD`; accepts a `datetime.date` too."""
    if isinstance(date, dt.datetime):
        raise InvalidName(f"invalid date {date!r}: a partition date is a day, not a timestamp")
    if isinstance(date, dt.date):
        return date.isoformat()
    if isinstance(date, str) and _DATE.fullmatch(date):
        try:
            dt.date.fromisoformat(date)
        except ValueError:
            pass
        else:
            return date
    raise InvalidName(f"invalid date {date!r}: a date is YYYY-MM-DD and must exist in the calendar")


def quote_name(name: str) -> str:
    """A name as it stands in a key: `quote(name, safe="")`, so `/` can never add a level."""
    return quote(name, safe="")
