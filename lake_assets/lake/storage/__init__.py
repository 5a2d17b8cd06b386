"""Where objects live: the few store operations the protocol needs (conditional writes,
version tokens, listings), on a local directory or S3."""
