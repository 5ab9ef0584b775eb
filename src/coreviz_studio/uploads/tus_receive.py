"""A tus PATCH body, streamed straight into the store's append (on the local disk: in place, at
the end of the upload's file), hashed and counted on the way: it can never carry more than what
is left of Upload-Length. One batch is written (and hashed) in a thread while the next arrives,
as a multipart upload's is (batches.py).

A body cut off (the client went away, or it stalled past body_read_timeout_seconds) keeps what
arrived, as tus asks, unless the client sent a checksum: a partial chunk cannot match one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from coreviz_studio.formats import SNIFF_BYTES
from coreviz_studio.storage.base import ResumableAppend
from coreviz_studio.storage.hashing import write_hashed
from coreviz_studio.uploads.batches import Batches
from coreviz_studio.uploads.tus import too_large_chunk


@dataclass
class Chunk:
    size: int = 0
    head: bytearray = field(default_factory=bytearray)
    checked: hashlib._Hash | None = None  # this body's sha256, when the client sent one
    cut: BaseException | None = None  # why the body ended early, if it did


async def receive_chunk(stream: object, room: int, append: ResumableAppend, *, check: bool,
                        whole: hashlib._Hash | None) -> Chunk:
    """Write the body into `append` (its commit or abort is the caller's), hashing it when
    `check` (the client sent its checksum); `whole`, if given, is the whole file's running
    hash, advanced by these bytes too."""
    body = Chunk(checked=hashlib.sha256() if check else None)
    hashes = [h for h in (body.checked, whole) if h is not None]

    def write(batch: memoryview) -> None:
        write_hashed(append.write, batch, hashes)

    batches = Batches(write)
    try:
        try:
            async for chunk in stream:  # type: ignore[attr-defined]
                body.size += len(chunk)
                if body.size > room:
                    raise too_large_chunk(room)
                if len(body.head) < SNIFF_BYTES:
                    body.head += chunk[: SNIFF_BYTES - len(body.head)]
                await batches.add(chunk)
        except ClientDisconnect as exc:
            body.cut = exc
        except HTTPException as exc:
            if exc.status_code != 408:  # a stalled body: keep what came, like a disconnect
                raise
            body.cut = exc
        await batches.close()
    except BaseException:
        await batches.settle()  # the batch being written ends before the caller aborts
        raise
    return body
