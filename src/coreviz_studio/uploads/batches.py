"""An upload's file bytes on their way to the store: copied into a batch while the event loop
parses the body, and each full batch written (and hashed) in a thread while the next one fills,
so that the two cores share the work instead of taking turns. Used by the multipart form
(receive.py) and by tus PATCH bodies (tus_receive.py).

The batches are block-aligned buffers (storage/filewrite.py: the disk takes them as they are,
without a copy into the page cache). Written batches go back to a small pool for the next
upload: fresh memory is a page fault per 4 KiB, and in a VM a fresh page costs about as much as
copying into it. At most POOL buffers wait there, so idle memory stays at POOL * BATCH.
"""

from __future__ import annotations

import asyncio
import contextlib
import mmap
from collections.abc import Callable

import anyio.to_thread

from coreviz_studio.storage.filewrite import block_buffer

BATCH = 1 << 20  # bytes per hand-over to the writer thread
POOL = 8
_pool: list[mmap.mmap] = []


def _take() -> mmap.mmap:
    try:
        return _pool.pop()
    except IndexError:
        return block_buffer(BATCH)


def _give(buffer: mmap.mmap) -> None:
    if len(_pool) < POOL:
        _pool.append(buffer)


class Batches:
    """Feeds `write` (blocking, run in a thread; it must not keep the view it is given past
    the call: the memory is reused) whole batches, then the rest at `close`. After an error,
    `settle` before touching what `write` writes to."""

    def __init__(self, write: Callable[[memoryview], None]) -> None:
        self._write = write
        self._filling: mmap.mmap | None = None
        self._filled = 0
        self._writing: asyncio.Future[None] | None = None
        self._written: mmap.mmap | None = None  # the buffer `_writing` reads from

    async def add(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data).cast("B")
        while view:
            if self._filling is None:
                self._filling, self._filled = _take(), 0
            n = min(len(view), BATCH - self._filled)
            self._filling[self._filled:self._filled + n] = view[:n]
            self._filled += n
            view = view[n:]
            if self._filled == BATCH:
                await self._hand_over()

    async def _hand_over(self) -> None:
        await self._wait()  # one batch in the thread at a time: memory stays at two
        buffer, self._filling = self._filling, None
        if buffer is None or not self._filled:
            if buffer is not None:
                _give(buffer)
            return
        self._written = buffer
        self._writing = asyncio.ensure_future(anyio.to_thread.run_sync(
            self._write, memoryview(buffer)[:self._filled]))

    async def _wait(self) -> None:
        writing = self._writing
        if writing is None:
            return
        try:
            await writing
        finally:
            if writing.done():  # written or failed: its buffer is free again
                self._writing = None
                self._release_written()

    def _release_written(self) -> None:
        if self._written is not None:
            _give(self._written)
            self._written = None

    async def close(self) -> None:
        """Write what is left, and wait until every byte is written."""
        await self._hand_over()
        await self._wait()

    async def settle(self) -> None:
        """Let a batch still being written finish (its error, if any, is not this one's to
        raise), so that the caller does not discard or cut the file under the writer's feet."""
        writing, self._writing = self._writing, None
        if writing is not None:
            with contextlib.suppress(BaseException):
                await asyncio.shield(writing)
            if writing.done():
                self._release_written()
        self._written = None  # still read by the thread (cancelled twice): not for the pool
        if self._filling is not None:
            _give(self._filling)
            self._filling = None
