"""The files `lake init` writes: a team's own repo, its own code location on the lake.

`template/` mirrors the repo written, each file a `string.Template` (`$repo`, `$pkg`, ...)
ending in `.tmpl`; `pkg/` and `pkg_tests/` become the team's package and its tests, and
`gitignore` becomes `.gitignore`. They ship as package data (pyproject.toml)."""
