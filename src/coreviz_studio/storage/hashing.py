"""Hashing a blob's bytes beside their write, in a thread of its own.

A write past the page cache (filewrite.py) waits for the disk, and hashlib releases the GIL on
big buffers: done one after the other, an upload's writer thread spends the disk's time and
then sha256's (0.6 s per GiB here); side by side, only the longer of the two. Small pieces are
hashed in place: handing them over would cost more than hashing them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

BESIDE_FROM = 256 * 1024  # bytes: smaller pieces are hashed in the writer's thread
_hashers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="blob-hash")


def _update(hashes: Sequence[hashlib._Hash], data: memoryview) -> None:
    for h in hashes:
        h.update(data)


def write_hashed(write: Callable[[memoryview], object], data: bytes | bytearray | memoryview,
                 hashes: Sequence[hashlib._Hash]) -> None:
    """`write(data)`, and every hash in `hashes` updated with `data`; when `write` raises, the
    hashes may or may not have been (the caller discards them)."""
    view = memoryview(data).cast("B")
    if len(view) < BESIDE_FROM or not hashes:
        write(view)
        _update(hashes, view)
        return
    hashing = _hashers.submit(_update, hashes, view)
    try:
        write(view)
    finally:
        hashing.result()  # the caller reuses the memory once this returns
