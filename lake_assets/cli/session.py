"""The lake a command works on, opened once from `--lake` (else `LAKE_URL`, else the default)."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field

from lake_assets.lake.lake import Lake


@dataclass
class Session:
    lake_url: str | None
    _lake: Lake | None = field(default=None, repr=False)

    @property
    def lake(self) -> Lake:
        if self._lake is None:
            self._lake = Lake.open(self.lake_url)
        return self._lake


_current: ContextVar[Session] = ContextVar("lake_cli_session")


def start(lake_url: str | None) -> None:
    """Called by the app's callback, before any command runs."""
    _current.set(Session(lake_url))


def current_lake() -> Lake:
    """The lake of the command being run."""
    return _current.get(Session(None)).lake
