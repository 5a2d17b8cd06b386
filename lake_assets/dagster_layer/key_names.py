"""Asset keys `[repo, branch]` whose branch holds `/` (`feature/x`) or other characters that
git allows but Dagster identifiers do not.

Dagster names a check's output after its asset key with only `-` and `.` replaced, so a blocking
check on `["flights", "feature/x"]` fails at definition load. Every other character outside
`[A-Za-z0-9_]` is replaced too; keys that were valid before keep their exact identifier."""

from __future__ import annotations

import re

from dagster import AssetKey

_INVALID = re.compile(r"[^A-Za-z0-9_]")
_original = AssetKey.to_python_identifier


def _to_python_identifier(self: AssetKey, suffix: str | None = None) -> str:
    return _INVALID.sub("_", _original(self, suffix))


if getattr(AssetKey.to_python_identifier, "__name__", "") != _to_python_identifier.__name__:
    AssetKey.to_python_identifier = _to_python_identifier  # type: ignore[method-assign]
