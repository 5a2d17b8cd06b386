"""The Dagster layer over the lake protocol: resources, the IO manager, lineage scopes."""
