"""A blob already in the store, seen through the PendingBlob protocol: what a finished tus
upload hands to service.store_upload, so that it becomes media exactly as a multipart one does.
Only BlobStore methods are used (stat, read, delete), so it works over any store."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from typing import BinaryIO

from coreviz_studio.storage.base import BlobStore


class _RangeReader(io.RawIOBase):
    """A seekable reader of one blob: each read after a seek asks the store for a range."""

    def __init__(self, store: BlobStore, key: str, size: int) -> None:
        self._store, self._key, self._size = store, key, size
        self._pos = 0
        self._chunks: Iterator[bytes] | None = None
        self._left = b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        target = max(0, base + offset)
        if target != self._pos:
            self._pos, self._chunks, self._left = target, None, b""
        return self._pos

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._pos >= self._size:
            return 0
        if not self._left:
            if self._chunks is None:
                self._chunks = self._store.read(self._key, self._pos)
            self._left = next(self._chunks, b"")
            if not self._left:
                return 0
        n = min(len(buffer), len(self._left))
        buffer[:n] = self._left[:n]
        self._left = self._left[n:]
        self._pos += n
        return n


class StoredPendingBlob:
    """`commit` gives the existing key (the store made it when the upload finished); `discard`
    deletes the blob, unless it was committed."""

    def __init__(self, store: BlobStore, key: str, size: int, head: bytes,
                 sha256: str = "") -> None:
        """`sha256`: the blob's, where the caller hashed the bytes as the store kept them;
        otherwise it is read back."""
        self._store, self._key, self._head = store, key, head
        self.size = size
        self.sha256 = sha256
        self._committed = False

    def head(self) -> bytes:
        return self._head

    def write(self, chunk: bytes | bytearray | memoryview) -> None:
        raise TypeError("a stored blob is complete; nothing can be appended")

    def flush(self) -> None:
        """Hash the blob as stored (read back through the store: what is hashed is what is
        kept)."""
        if not self.sha256:
            hasher = hashlib.sha256()
            for chunk in self._store.read(self._key):
                hasher.update(chunk)
            self.sha256 = hasher.hexdigest()

    def open(self) -> BinaryIO:
        self.flush()
        return io.BufferedReader(_RangeReader(self._store, self._key, self.size),
                                 buffer_size=1 << 20)

    def commit(self, ext: str) -> str:
        self.flush()
        self._committed = True
        return self._key

    def discard(self) -> None:
        if not self._committed:
            self._store.delete(self._key)
