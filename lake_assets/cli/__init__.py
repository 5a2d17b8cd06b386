"""The `lake` command line: browse, inspect, trace, publish and verify a lake from a terminal,
with or without Dagster running."""
