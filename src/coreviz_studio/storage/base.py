"""The blob store interface.

Blobs are immutable. Their keys are made here, by the server, from random bytes (never from a
client's filename), so a key is also an unguessable public URL path. A blob is written to a
pending place and becomes visible under its key only when it is complete and durable.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Protocol

# <2 hex>/<32 hex>.<ext>: 128 random bits, fanned out over 256 directories.
KEY_PATTERN = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{32}\.[a-z0-9]{2,5}$")


def new_key(ext: str) -> str:
    token = secrets.token_hex(16)
    return f"{token[:2]}/{token}.{ext}"


def is_key(key: str) -> bool:
    return KEY_PATTERN.match(key) is not None


class PendingBlob(Protocol):
    """A blob being written. `write` appends, `commit` makes it durable under a new key,
    `discard` removes every trace of it."""

    size: int
    sha256: str

    @property
    def path(self) -> Path:
        """A local file holding the bytes written so far (for probing before commit)."""
        ...

    def head(self) -> bytes:
        """The first bytes written (for type detection)."""
        ...

    def write(self, chunk: bytes) -> None: ...

    def flush(self) -> None:
        """Finish writing: the bytes are readable at `path` and `sha256` is set."""
        ...

    def commit(self, ext: str) -> str: ...

    def discard(self) -> None: ...


class BlobStore(Protocol):
    def begin(self) -> PendingBlob: ...

    def local_path(self, key: str) -> Path | None:
        """The file of a stored blob, or None if there is none."""
        ...

    def delete(self, key: str) -> None: ...


def put_file(store: BlobStore, source: Path, ext: str) -> str:
    """Copy a local file into the store under a new key (the pipeline's frames and
    thumbnails); the caller deletes the key again if its row never commits."""
    pending = store.begin()
    try:
        with open(source, "rb") as f:
            while chunk := f.read(1024 * 1024):
                pending.write(chunk)
        return pending.commit(ext)
    except BaseException:
        pending.discard()
        raise
