"""What GROS_SPEC.md defines and every other layer speaks: names, keys, URIs, refs and
records, and the errors a reader or writer meets. No I/O."""
