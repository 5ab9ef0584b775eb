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
import threading
import uuid
from collections import OrderedDict

MAX_ENTRIES = 10_000  # a few hundred bytes each

_lock = threading.Lock()
_running: OrderedDict[uuid.UUID, tuple[int, hashlib._Hash]] = OrderedDict()


def take(upload_id: uuid.UUID, offset: int) -> hashlib._Hash | None:
    """The hash of the upload's first `offset` bytes, removed from the cache; a new hash at
    offset 0; None when this process does not have it."""
    with _lock:
        entry = _running.pop(upload_id, None)
    if offset == 0:
        return hashlib.sha256()
    if entry is None or entry[0] != offset:
        return None
    return entry[1]


def put(upload_id: uuid.UUID, offset: int, running: hashlib._Hash) -> None:
    with _lock:
        _running[upload_id] = (offset, running)
        _running.move_to_end(upload_id)
        while len(_running) > MAX_ENTRIES:
            _running.popitem(last=False)


def forget(upload_id: uuid.UUID) -> None:
    with _lock:
        _running.pop(upload_id, None)
