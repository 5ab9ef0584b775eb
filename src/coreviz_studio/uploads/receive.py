"""Stream a multipart upload straight into a pending blob.

The request body is parsed as it arrives (python-multipart's push parser): the `file` part goes
to the blob store in batches written from a worker thread (hashing as it goes: batches.py), the
small text fields are kept in memory. Nothing else is buffered, so memory stays flat whatever
the file's size, and the byte limit is enforced while reading: at most `limit` bytes of file
are stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from coreviz_studio.diskspace import is_out_of_space
from coreviz_studio.errors import (
    AppError,
    BadRequest,
    InsufficientStorage,
    Invalid,
    TooLarge,
    UnsupportedMediaType,
)
from coreviz_studio.storage.base import BlobStore, PendingBlob
from coreviz_studio.uploads import digest as digests
from coreviz_studio.uploads.batches import Batches

FIELDS = ("datasetId", "path", "name", "versionOf")
FILE_FIELD = "file"
MAX_FIELD_BYTES = 16 * 1024


@dataclass
class Received:
    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    declared_type: str | None = None
    blob: PendingBlob | None = None


@dataclass
class _Part:
    name: str | None = None
    filename: str | None = None
    content_type: str | None = None
    text: bytearray = field(default_factory=bytearray)


def boundary_of(content_type: str | None) -> bytes:
    kind, params = parse_options_header(content_type or "")
    if kind.lower() != b"multipart/form-data":
        raise UnsupportedMediaType("Upload with Content-Type multipart/form-data (a form with a "
                              "'file' field)")
    boundary = params.get(b"boundary")
    if not boundary or len(boundary) > 200:
        raise BadRequest("Malformed multipart body: the Content-Type has no boundary")
    return boundary


def too_large(limit: int) -> TooLarge:
    return TooLarge(f"The file is larger than the upload limit of {limit:,} bytes "
                    "(COREVIZ_MAX_UPLOAD_BYTES)")


async def receive(stream: AsyncIterator[bytes], content_type: str | None, store: BlobStore,
                  limit: int, digest: bytes | None = None) -> Received:
    """Parse the body; the caller owns (and must commit or discard) `Received.blob`. `digest`:
    the sha-256 of the whole body (framing included) that the client's Content-Digest gave."""
    boundary = boundary_of(content_type)
    hasher = hashlib.sha256() if digest is not None else None  # only a sent digest is checked
    out = Received()
    part = _Part()
    headers: dict[str, bytes] = {}
    header_name = bytearray()
    header_value = bytearray()
    pieces: list[memoryview] = []  # the file's bytes in the chunk being parsed (not copied)
    batches: Batches | None = None
    problem: list[AppError] = []
    file_bytes = 0

    def on_part_begin() -> None:
        nonlocal part
        part = _Part()
        headers.clear()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_name.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        headers[header_name.decode("latin-1").lower()] = bytes(header_value)
        header_name.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        nonlocal batches
        _, params = parse_options_header(headers.get("content-disposition", b""))
        raw_name = params.get(b"name")
        part.name = raw_name.decode("utf-8", "replace") if raw_name is not None else None
        raw_filename = params.get(b"filename")
        part.filename = raw_filename.decode("utf-8", "replace") if raw_filename else None
        part.content_type = headers.get("content-type", b"").decode("latin-1") or None
        if part.name == FILE_FIELD:
            if out.blob is not None:
                problem.append(BadRequest("Send one file per upload (one 'file' field)"))
                return
            out.blob = store.begin()
            batches = Batches(out.blob.write)
            out.filename, out.declared_type = part.filename, part.content_type
        elif part.name not in FIELDS:
            problem.append(Invalid(f"Unknown form field '{(part.name or '')[:100]}'; the "
                                   f"fields are file, {', '.join(FIELDS)}"))

    def on_part_data(data: bytes, start: int, end: int) -> None:
        nonlocal file_bytes
        if problem:
            return
        if part.name == FILE_FIELD:
            file_bytes += end - start
            if file_bytes > limit:
                problem.append(too_large(limit))
                return
            pieces.append(memoryview(data)[start:end])
        else:
            part.text.extend(data[start:end])
            if len(part.text) > MAX_FIELD_BYTES:
                problem.append(BadRequest(f"Form field '{part.name}' is too long"))

    def on_part_end() -> None:
        if part.name in FIELDS and not problem:
            if part.name in out.fields:
                problem.append(BadRequest(f"Form field '{part.name}' is given twice"))
            out.fields[part.name] = part.text.decode("utf-8", "replace")

    ended: list[bool] = []

    def on_end() -> None:
        ended.append(True)

    callbacks: Any = {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field,
        "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
        "on_part_end": on_part_end, "on_end": on_end,
    }
    parser = MultipartParser(boundary, callbacks)

    async def store_pieces() -> None:
        if batches is not None:
            for piece in pieces:
                await batches.add(piece)
        pieces.clear()

    try:
        async for chunk in stream:
            if hasher is not None:
                hasher.update(chunk)
            parser.write(chunk)
            if problem:
                raise problem[0]
            await store_pieces()
        parser.finalize()
        if problem:
            raise problem[0]
        if not ended:
            raise BadRequest("Malformed multipart body: it ends before its closing boundary")
        if batches is not None:
            await batches.close()
        if hasher is not None:
            digests.check(hasher, digest=digest, checksum=None)
        if out.blob is None:
            raise Invalid("A file is required: send it in the form field 'file'")
        await anyio.to_thread.run_sync(out.blob.flush)
    except MultipartParseError as exc:
        await _settle(batches, out)
        raise BadRequest(f"Malformed multipart body ({exc})") from exc
    except OSError as exc:
        await _settle(batches, out)  # the partial file goes, even from a full disk
        if is_out_of_space(exc):
            raise InsufficientStorage() from exc
        raise
    except BaseException:
        await _settle(batches, out)
        raise
    return out


async def _settle(batches: Batches | None, out: Received) -> None:
    """Let a batch still being written finish, then discard the blob."""
    if batches is not None:
        await batches.settle()
    _discard(out)


def _discard(out: Received) -> None:
    if out.blob is not None:
        out.blob.discard()
        out.blob = None
