"""What happens to an item after it is deleted: the trash, the purge, and the orphan sweep
(docs/lifecycle.md)."""
