"""Where file bytes live: one interface, a local-disk implementation (S3 later)."""
