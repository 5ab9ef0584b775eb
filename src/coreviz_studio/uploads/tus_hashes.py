"""The running sha256 of resumable uploads this process is receiving, so that the finished
file need not be read back to learn its hash (measured: reading back and hashing 1 GiB took
about as long as receiving it).

Only a cache: an entry is taken (removed) by the request that advances it and put back at the
new offset once that request's bytes are recorded, so a failed request, an upload whose next
chunk went to another API process, or a restart simply finds nothing, and the caller reads the
file back. Used only where the store keeps appended bytes exactly as handed in
(`BlobStore.resumable_trusted`).
"""

from __future__ import annotations

import hashlib
import uuid

from coreviz_studio.lru import Lru

MAX_ENTRIES = 10_000  # a few hundred bytes each

_running: Lru[uuid.UUID, tuple[int, hashlib._Hash]] = Lru(MAX_ENTRIES)


def take(upload_id: uuid.UUID, offset: int) -> hashlib._Hash | None:
    """The hash of the upload's first `offset` bytes, removed from the cache; a new hash at
    offset 0; None when this process does not have it."""
    entry = _running.pop(upload_id)
    if offset == 0:
        return hashlib.sha256()
    if entry is None or entry[0] != offset:
        return None
    return entry[1]


def put(upload_id: uuid.UUID, offset: int, running: hashlib._Hash) -> None:
    _running.put(upload_id, (offset, running))


def forget(upload_id: uuid.UUID) -> None:
    _running.pop(upload_id)
