"""The lake a command works on, from `--lake` (else `LAKE_URL`, else the default)."""

from __future__ import annotations

from contextvars import ContextVar

from lake_assets.lake.lake import Lake

_lake_url: ContextVar[str | None] = ContextVar("lake_cli_url", default=None)


def start(lake_url: str | None) -> None:
    """Called by the app's callback, before any command runs."""
    _lake_url.set(lake_url)


def current_lake() -> Lake:
    """The lake of the command being run."""
    return Lake.open(_lake_url.get())
