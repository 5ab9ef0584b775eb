"""Bytes being received, spooled to a local file named by its owner (so the next start removes
a dead process's at once): size, sha256 and the first bytes are kept on the way. Both stores'
pending blobs are one of these, then a rename (local) or an upload (S3)."""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import BinaryIO

from coreviz_studio import owners
from coreviz_studio.formats import SNIFF_BYTES
from coreviz_studio.storage.base import new_key


class Spool:
    def __init__(self, directory: Path) -> None:
        self.path = directory / f"{owners.me()}.{new_key('part').split('/')[1]}"
        self._file = open(self.path, "xb")  # noqa: SIM115 - closed in finish/remove
        self._hash = hashlib.sha256()
        self._head = bytearray()
        self.size = 0
        self.sha256 = ""

    def head(self) -> bytes:
        return bytes(self._head)

    def write(self, chunk: bytes | bytearray) -> None:
        self._file.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)
        if len(self._head) < SNIFF_BYTES:
            self._head += chunk[: SNIFF_BYTES - len(self._head)]

    def finish(self, durable: bool) -> None:
        """No more bytes: close the file (fsynced when `durable`), set `sha256`."""
        if not self._file.closed:
            if durable:
                self._file.flush()
                os.fsync(self._file.fileno())
            self._file.close()
            self.sha256 = self._hash.hexdigest()

    def open(self) -> BinaryIO:
        """A reader of every byte. Opened by descriptor: a decoder's complaint names
        "<... name=7>", not our path."""
        return open(os.open(self.path, os.O_RDONLY), "rb")

    def remove(self) -> None:
        if not self._file.closed:
            # Closing flushes the buffer, which fails again on a full disk; the file goes anyway.
            with contextlib.suppress(OSError):
                self._file.close()
        self.path.unlink(missing_ok=True)
