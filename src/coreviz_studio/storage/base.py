"""The blob store interface: blobs by key and stream. No local path leaves `storage/`.

Blobs are immutable. Their keys are made here, by the server, from random bytes (never from a
client's filename), so a key is also an unguessable URL path. A blob is written to a pending
place (size and sha256 computed on the way) and becomes visible under its key only when it is
complete and durable; readers get byte ranges, workers a copy in their own scratch folder.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

# <2 hex>/<32 hex>.<ext>: 128 random bits, fanned out over 256 prefixes.
KEY_PATTERN = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{32}\.[a-z0-9]{2,5}$")
CHUNK = 1024 * 1024


def new_key(ext: str) -> str:
    token = secrets.token_hex(16)
    return f"{token[:2]}/{token}.{ext}"


def resumable_key(token: str, ext: str) -> str:
    """The key a finished resumable upload gets: from its own random token (32 hex, made by
    the store, never reused), so that finishing again after a crash finds the same blob."""
    return f"{token[:2]}/{token}.{ext}"


def is_key(key: str) -> bool:
    return KEY_PATTERN.match(key) is not None


def etag_of(key: str) -> str:
    """Blobs never change, so the key's random token is a perfect (strong) entity tag."""
    return '"' + key.rsplit("/", 1)[-1].split(".", 1)[0] + '"'


class NotStored(LookupError):
    """No blob under that key (never made, deleted, or not a key at all)."""


class StoreSettingsError(ValueError):
    """The settings can't make a working store; the message names the setting."""


class StorageUnavailable(Exception):
    """The store's service (S3) did not answer or failed; nothing was saved. The API answers
    503 with Retry-After (app.py): nothing is wrong with the request."""


@dataclass(frozen=True)
class StoredBlob:
    key: str
    size: int
    modified: datetime  # when it was stored (for the orphan sweep's grace period)


class PendingBlob(Protocol):
    """A blob being written. `write` appends, `commit` makes it durable under a new key,
    `discard` removes every trace of it."""

    size: int
    sha256: str

    def head(self) -> bytes:
        """The first bytes written (for type detection)."""
        ...

    def write(self, chunk: bytes | bytearray | memoryview) -> None: ...

    def flush(self) -> None:
        """Finish writing: `sha256` is set and `open` reads every byte."""
        ...

    def open(self) -> BinaryIO:
        """A seekable reader of the bytes written (to probe them before commit); the caller
        closes it."""
        ...

    def commit(self, ext: str) -> str:
        """Store the bytes under a new key (returned); afterwards only `discard` is allowed,
        and does nothing."""
        ...

    def discard(self) -> None: ...


class ResumableAppend(Protocol):
    """The bytes of one tus request on their way into a resumable upload: `write` appends
    (they may land in place at once), `commit` makes them durable and gives the upload's new
    state, `abort` leaves the upload as it was. `close` ends it either way (a lock it held is
    released); it is also a context manager that closes."""

    size: int  # bytes written through this append

    def stale_tail(self) -> bool:
        """Whether the store holds bytes past the offset (left by a request that failed before
        its offset was recorded). The caller confirms the offset in its own records, then
        calls `drop_stale_tail`; a tail the records do know of is a Conflict."""
        ...

    def drop_stale_tail(self) -> None: ...

    def write(self, chunk: bytes | bytearray | memoryview) -> None: ...

    def commit(self) -> str: ...

    def abort(self) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> ResumableAppend: ...

    def __exit__(self, *exc: object) -> None: ...


class AppendBusy(Exception):
    """Another request is appending to the same resumable upload right now."""


class BlobStore(Protocol):
    kind: str  # "local" or "s3": for logs, /healthz and errors
    # Whether appended bytes are kept exactly as handed in (a local file, fsynced), so a hash
    # computed on the way in is the finished blob's; where not (S3), the caller reads it back.
    resumable_trusted: bool

    def begin(self) -> PendingBlob: ...

    def stat(self, key: str) -> StoredBlob | None:
        """The stored blob under `key`, or None."""
        ...

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The bytes [start, end) of a blob (to its end when `end` is None), in chunks;
        NotStored when there is none. Opens the blob before the first chunk is asked for."""
        ...

    def fetch(self, key: str, dest: Path) -> None:
        """Copy a blob into a new local file `dest` (a worker's scratch folder); NotStored
        when there is none."""
        ...

    def delete(self, key: str) -> None:
        """Remove a blob; nothing happens when there is none."""
        ...

    def list_blobs(self) -> Iterator[StoredBlob]:
        """Every stored blob (for the orphan sweep)."""
        ...

    def reap_pending(self) -> int:
        """Remove what dead processes left pending (partial files, unfinished multipart
        uploads); how many."""
        ...

    def presigned_url(self, key: str, seconds: int) -> str | None:
        """A short-lived URL a client can fetch the blob from directly, where the store has
        one (S3); None otherwise."""
        ...

    # --- resumable uploads (tus): bytes that arrive over many requests, maybe to several API
    # processes, so their state is a string the caller keeps in the database. Every chunk
    # handed in is already checked (checksums are the caller's).

    def resumable_create(self) -> str:
        """Start a resumable upload; its state."""
        ...

    def resumable_appender(self, state: str, offset: int) -> ResumableAppend:
        """Start appending at `offset`, the number of bytes stored so far. An offset past the
        stored length is a ValueError, a missing upload NotStored, an append already under way
        AppendBusy (where the store can tell)."""
        ...

    def resumable_finish(self, state: str, ext: str) -> str:
        """Make every byte appended a blob under its key (returned). Idempotent: called again
        after a finish that was cut off midway (a crash before the caller recorded the result),
        it completes that finish and returns the same key."""
        ...

    def resumable_abort(self, state: str) -> None:
        """Remove what was stored for the upload; nothing happens when it is gone already."""
        ...


def put_stream(store: BlobStore, chunks: Iterator[bytes] | BinaryIO, ext: str) -> str:
    """Store a stream under a new key; the caller deletes the key again if its row never
    commits."""
    pending = store.begin()
    try:
        if isinstance(chunks, Iterator):
            for chunk in chunks:
                pending.write(chunk)
        else:
            while chunk := chunks.read(CHUNK):
                pending.write(chunk)
        return pending.commit(ext)
    except BaseException:
        pending.discard()
        raise


def put_file(store: BlobStore, source: Path, ext: str) -> str:
    """Copy a local file (the pipeline's frames and thumbnails) into the store under a new
    key."""
    with open(source, "rb") as f:
        return put_stream(store, f, ext)


def resumable_append(store: BlobStore, state: str, offset: int, data: BinaryIO) -> str:
    """Append all of `data` at `offset` (which the caller's records hold: bytes past it are a
    failed request's) in one go; the upload's new state."""
    with store.resumable_appender(state, offset) as append:
        if append.stale_tail():
            append.drop_stale_tail()
        while chunk := data.read(CHUNK):
            append.write(chunk)
        return append.commit()
