"""Blobs as files under one directory: written to `tmp/`, fsynced, renamed into place, and the
directory fsynced, so a blob is either complete and durable or absent."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from coreviz_studio import owners
from coreviz_studio.storage.base import (
    CHUNK,
    AppendBusy,
    NotStored,
    StoredBlob,
    is_key,
    new_key,
    resumable_key,
)
from coreviz_studio.storage.filewrite import FileWriter
from coreviz_studio.storage.spool import SpooledBlob

# Pending files whose owner can't be judged (another machine's, or named before owners were
# recorded) are leftovers of a crash once this old.
STALE_PENDING_SECONDS = 6 * 3600
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalPendingBlob(SpooledBlob):
    def __init__(self, store: LocalBlobStore) -> None:
        super().__init__(store.tmp_dir)
        self._store = store

    def commit(self, ext: str) -> str:
        self.flush()
        key = new_key(ext)
        target = self._store.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(self._path, target)
        _fsync_dir(target.parent)
        self._done = True
        return key


class LocalAppend:
    """Bytes written in place, at the end of the upload's file, under an exclusive lock on it
    (a second request appending at once is AppendBusy); given to the disk as they come
    (past the page cache where it can: filewrite.py)."""

    def __init__(self, path: Path, state: str, offset: int) -> None:
        try:
            self._file = FileWriter(path, create=False, start=offset)
        except FileNotFoundError:
            raise NotStored(state) from None
        try:
            try:
                fcntl.flock(self._file.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise AppendBusy(state) from None
            self._stored = os.fstat(self._file.fd).st_size
            if self._stored < offset:
                raise ValueError(f"the upload holds {self._stored} bytes, not {offset}")
        except BaseException:
            self._file.close()
            raise
        self._state, self._offset, self.size = state, offset, 0

    def stale_tail(self) -> bool:
        return self._stored > self._offset

    def drop_stale_tail(self) -> None:
        self._file.truncate(self._offset)
        self._stored = self._offset

    def write(self, chunk: bytes | bytearray | memoryview) -> None:
        if self.stale_tail():
            raise ValueError(f"the upload holds {self._stored} bytes, not {self._offset}")
        self._file.write(chunk)
        self.size += len(chunk)

    def commit(self) -> str:
        self._file.sync()
        return self._state

    def abort(self) -> None:
        """The bytes of this append go (a full disk, a checksum mismatch): as it was."""
        if self.stale_tail():
            return  # nothing was written; the tail may be another request's, recorded since
        self._file.truncate(self._offset)
        self.size = 0

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()  # closing releases the lock

    def __enter__(self) -> LocalAppend:
        return self

    def __exit__(self, *exc: object) -> None:
        # No abort on an error: bytes committed before it stay, and any others are a stale
        # tail that the next request drops once the caller's records confirm it.
        self.close()


class LocalBlobStore:
    kind = "local"
    resumable_trusted = True

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp_dir = root / "tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Resumable uploads outlive processes: they expire by the database's clock instead.
        self.tus_dir = root / "tus"
        self.tus_dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    def begin(self) -> LocalPendingBlob:
        return LocalPendingBlob(self)

    def _path(self, key: str) -> Path | None:
        if not is_key(key):  # the only paths ever opened are keys this store made
            return None
        path = self.root / key
        return path if path.is_file() else None

    def stat(self, key: str) -> StoredBlob | None:
        path = self._path(key)
        if path is None:
            return None
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        return StoredBlob(key, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        path = self._path(key)
        if path is None:
            raise NotStored(key)
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed when the generator ends
        except FileNotFoundError:
            raise NotStored(key) from None
        return _chunks(f, start, end)

    def fetch(self, key: str, dest: Path) -> None:
        path = self._path(key)
        if path is None:
            raise NotStored(key)
        try:
            # Same file system (scratch lives in the data dir): a hard link costs nothing and
            # is safe, blobs never change. Elsewhere, a copy.
            os.link(path, dest)
        except FileNotFoundError:
            raise NotStored(key) from None
        except OSError:
            shutil.copyfile(path, dest)

    def delete(self, key: str) -> None:
        path = self._path(key)
        if path is not None:
            path.unlink(missing_ok=True)

    def list_blobs(self) -> Iterator[StoredBlob]:
        for fan in sorted(self.root.iterdir()):
            if fan in (self.tmp_dir, self.tus_dir) or not fan.is_dir():
                continue
            for entry in sorted(fan.iterdir()):
                key = f"{fan.name}/{entry.name}"
                if is_key(key) and (found := self.stat(key)) is not None:
                    yield found

    def presigned_url(self, key: str, seconds: int) -> str | None:
        return None

    # --- resumable uploads: one file in tus/, named by a random token (the state) ----------

    def _resumable(self, state: str) -> Path:
        if not _TOKEN.match(state):
            raise NotStored(state)
        return self.tus_dir / f"{state}.part"

    def resumable_create(self) -> str:
        state = secrets.token_hex(16)
        self._resumable(state).touch(mode=0o600, exist_ok=False)
        return state

    def resumable_appender(self, state: str, offset: int) -> LocalAppend:
        return LocalAppend(self._resumable(state), state, offset)

    def resumable_finish(self, state: str, ext: str) -> str:
        path = self._resumable(state)
        # The key is the upload's own random token (never reused, never shown), so a finish
        # cut off after the rename (the process killed before the media row committed) is
        # done again by the next one instead of losing the upload.
        key = resumable_key(state, ext)
        target = self.root / key
        if not path.exists():
            if target.is_file():
                return key
            raise NotStored(state)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(path, target)
        _fsync_dir(target.parent)
        return key

    def resumable_abort(self, state: str) -> None:
        with contextlib.suppress(NotStored, FileNotFoundError):
            self._resumable(state).unlink()

    def reap_pending(self, older_than: float = STALE_PENDING_SECONDS) -> int:
        """Remove pending files left by dead processes, whatever their age (and files of
        owners that can't be judged once `older_than`); a live process's stay. How many."""
        return owners.remove_leftovers(self.tmp_dir.iterdir(), older_than)

def _chunks(f: BinaryIO, start: int, end: int | None) -> Iterator[bytes]:
    with f:
        f.seek(start)
        left = None if end is None else max(0, end - start)
        while left is None or left > 0:
            chunk = f.read(CHUNK if left is None else min(CHUNK, left))
            if not chunk:
                return
            if left is not None:
                left -= len(chunk)
            yield chunk
