"""What both stores' pending blobs share: the bytes spooled to a local file named by its owner
(so the next start removes a dead process's at once), with size, sha256 and the first bytes
kept on the way. A store's subclass says how `commit` stores them (a rename, an upload) and
whether the spool itself must be durable."""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import BinaryIO

from coreviz_studio import owners
from coreviz_studio.formats import SNIFF_BYTES
from coreviz_studio.storage.base import new_key
from coreviz_studio.storage.filewrite import FileWriter
from coreviz_studio.storage.hashing import write_hashed


class SpooledBlob:
    # fsync the spool when writing ends, and write it past the page cache (filewrite.py); a
    # spool that is not durable is read back at once (to S3): the cache is where it should be.
    durable = True

    def __init__(self, directory: Path) -> None:
        self._path = directory / f"{owners.me()}.{new_key('part').split('/')[1]}"
        self._file = FileWriter(self._path, create=True, durable=self.durable)
        self._hash = hashlib.sha256()
        self._head = bytearray()
        self.size = 0
        self.sha256 = ""
        self._done = False  # committed or discarded: discard does nothing any more

    def head(self) -> bytes:
        return bytes(self._head)

    def write(self, chunk: bytes | bytearray | memoryview) -> None:
        write_hashed(self._file.write, chunk, (self._hash,))
        self.size += len(chunk)
        if len(self._head) < SNIFF_BYTES:
            self._head += chunk[: SNIFF_BYTES - len(self._head)]

    def flush(self) -> None:
        """No more bytes: `open` reads every one of them and `sha256` is set."""
        if not self._file.closed:
            if self.durable:
                self._file.sync()
            self._file.close()
            self.sha256 = self._hash.hexdigest()

    def open(self) -> BinaryIO:
        self.flush()
        # Opened by descriptor: a decoder's complaint names "<... name=7>", not our path.
        return open(os.open(self._path, os.O_RDONLY), "rb")

    def discard(self) -> None:
        if self._done:
            return
        with contextlib.suppress(OSError):
            self._file.close()
        self._path.unlink(missing_ok=True)
        self._done = True
