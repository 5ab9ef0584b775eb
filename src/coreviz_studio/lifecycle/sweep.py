"""The orphan sweep: stored blobs that no row holds, once they are older than the grace period
(a younger one may belong to an upload whose row has not committed yet)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import islice

from coreviz_studio.blobs import refs
from coreviz_studio.db.session import Database
from coreviz_studio.storage.base import BlobStore, StoredBlob

log = logging.getLogger(__name__)
_BATCH = 500  # keys asked about in one query


def _batches(blobs: Iterator[StoredBlob]) -> Iterator[list[StoredBlob]]:
    while batch := list(islice(blobs, _BATCH)):
        yield batch


def sweep_orphans(db: Database, store: BlobStore, grace: timedelta, now: datetime) -> int:
    """Delete every blob older than `grace` at `now` that no row holds; how many."""
    if not refs.sees_every_row(db):
        log.error("orphan sweep skipped: the database role cannot see every organization's "
                  "rows (it is neither a superuser nor BYPASSRLS), so it cannot tell orphans")
        return 0
    cutoff = now - grace
    removed = 0
    for batch in _batches(b for b in store.list_blobs() if b.modified < cutoff):
        held = refs.holders(db, [b.key for b in batch])
        for blob in batch:
            if blob.key not in held:
                store.delete(blob.key)
                removed += 1
    if removed:
        log.info("orphan sweep: removed %d blobs no row holds", removed)
    return removed
