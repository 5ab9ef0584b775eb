"""A tus PATCH body, streamed into an unnamed scratch file (memory stays flat), hashed and
counted on the way: it can never carry more than what is left of Upload-Length.

A body cut off (the client went away, or it stalled past body_read_timeout_seconds) keeps what
arrived, as tus asks, unless the client sent a checksum: a partial chunk cannot match one.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, cast

import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from coreviz_studio.config import Settings
from coreviz_studio.formats import SNIFF_BYTES
from coreviz_studio.uploads.tus import too_large_chunk

_BATCH = 1 << 20  # bytes handed to the writer thread at a time


@dataclass
class Spooled:
    file: BinaryIO
    size: int = 0
    head: bytearray = field(default_factory=bytearray)
    hasher: hashlib._Hash = field(default_factory=hashlib.sha256)
    cut: BaseException | None = None  # why the body ended early, if it did


def scratch(settings: Settings) -> Path:
    path = settings.data_dir / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


async def spool(stream: object, room: int, settings: Settings) -> Spooled:
    """Read the body into a scratch file (removed when closed: the caller closes it)."""
    # Unnamed (O_TMPFILE where the OS has it): a crash leaves nothing behind.
    file = await anyio.to_thread.run_sync(
        lambda: tempfile.TemporaryFile(dir=scratch(settings)))  # noqa: SIM115 - closed by caller
    body = Spooled(cast(BinaryIO, file))
    pending = bytearray()
    try:
        try:
            async for chunk in stream:  # type: ignore[attr-defined]
                body.size += len(chunk)
                if body.size > room:
                    raise too_large_chunk(room)
                body.hasher.update(chunk)
                if len(body.head) < SNIFF_BYTES:
                    body.head += chunk[: SNIFF_BYTES - len(body.head)]
                pending += chunk
                if len(pending) >= _BATCH:
                    batch = bytes(pending)
                    pending.clear()
                    await anyio.to_thread.run_sync(body.file.write, batch)
        except ClientDisconnect as exc:
            body.cut = exc
        except HTTPException as exc:
            if exc.status_code != 408:  # a stalled body: keep what came, like a disconnect
                raise
            body.cut = exc
        if pending:
            await anyio.to_thread.run_sync(body.file.write, bytes(pending))
        await anyio.to_thread.run_sync(body.file.flush)
        body.file.seek(0)
    except BaseException:
        body.file.close()
        raise
    return body
