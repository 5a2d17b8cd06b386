"""A data object's bytes: gzip CSV written and read by pyarrow and isal, and the column
types a production record keeps so a reader parses them back exactly."""
