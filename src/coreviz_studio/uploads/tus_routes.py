"""tus 1.0 (https://tus.io/protocols/resumable-upload) at /api/upload/tus: core, creation,
creation-with-upload, termination, checksum (sha256) and expiration. docs/uploads.md says how
a client learns the media id: the final PATCH's headers, or GET of the upload's URL."""

from __future__ import annotations

import hashlib
import uuid
from email.utils import format_datetime
from typing import Any

from fastapi import APIRouter, Request, Response, status
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from coreviz_studio.deps import Blobs, Config, Db, Member, Urls, Viewer, db_place_lent
from coreviz_studio.errors import (
    AppError,
    BadRequest,
    Conflict,
    Locked,
    PreconditionFailed,
)
from coreviz_studio.errors import UnsupportedMediaType as WrongType
from coreviz_studio.uploads import digest as digests
from coreviz_studio.uploads import tus
from coreviz_studio.uploads.receive import too_large
from coreviz_studio.uploads.schemas import UploadResult
from coreviz_studio.uploads.tus import too_large_chunk
from coreviz_studio.uploads.tus_receive import receive_chunk

router = APIRouter(prefix="/api/upload", tags=["upload"])
PREFIX = "/api/upload/tus"
VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,termination,checksum,expiration"
CHUNK_TYPE = "application/offset+octet-stream"
_HEADERS: dict[str, dict[str, Any]] = {
    "Tus-Resumable": {"required": True, "schema": {"type": "string", "enum": [VERSION]},
                      "description": "The tus version the client speaks"},
    "Upload-Length": {"required": True, "schema": {"type": "integer", "minimum": 0},
                      "description": "The file's size in bytes"},
    "Upload-Metadata": {"schema": {"type": "string"}, "description":
                        "key base64value pairs, comma-separated: datasetId (required), path, "
                        "name, versionOf, filename"},
    "Upload-Offset": {"required": True, "schema": {"type": "integer", "minimum": 0},
                      "description": "Where this chunk starts (the upload's offset)"},
    "Upload-Checksum": {"schema": {"type": "string"}, "description": "sha256 <base64>"},
    "Content-Digest": {"schema": {"type": "string"}, "description": "sha-256=:<base64>:"},
}


def _doc(*headers: str, body: bool = False) -> dict[str, Any]:
    """The tus headers a route reads (it reads them by hand), for /docs and clients."""
    extra: dict[str, Any] = {"parameters": [{"name": h, "in": "header", **_HEADERS[h]}
                                            for h in headers]}
    if body:
        extra["requestBody"] = {"required": False, "content": {CHUNK_TYPE: {
            "schema": {"type": "string", "format": "binary"}}}}
    return extra

_TUS_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such upload (or collection, folder, versionOf item)"},
    410: {"description": "The upload expired; its bytes were removed"},
    412: {"description": "Tus-Resumable is missing or not 1.0.0 (Tus-Version lists ours)"},
}
_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **_TUS_ERRORS,
    400: {"description": "A malformed tus header, or a Content-Digest mismatch"},
    409: {"description": "Upload-Offset is not the upload's offset"},
    413: {"description": "Larger than COREVIZ_MAX_UPLOAD_BYTES, or than Upload-Length"},
    415: {"description": "Not application/offset+octet-stream, or not a supported file"},
    423: {"description": "Another PATCH of this upload is in progress"},
    460: {"description": "Checksum Mismatch: the chunk's sha256 is not Upload-Checksum"},
    507: {"description": "The server's disk is full"},
}


def _tus_headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"Tus-Resumable": VERSION, **(extra or {})}


def _require_tus(request: Request) -> None:
    if request.headers.get("tus-resumable") != VERSION:
        raise PreconditionFailed(f"Send Tus-Resumable: {VERSION} (the tus version this server "
                                 "speaks)", headers=_tus_headers({"Tus-Version": VERSION}))


def _state(p: tus.Progress) -> dict[str, str]:
    headers = {"Upload-Offset": str(p.offset), "Upload-Length": str(p.length),
               "Upload-Expires": format_datetime(p.expires_at, usegmt=True),
               "Cache-Control": "no-store"}
    if p.result is not None:  # finished: what the multipart answer says, as headers
        headers["CoreViz-Media-Id"] = str(p.result["mediaId"])
        headers["CoreViz-Media-Url"] = str(p.result["url"])
        if p.result.get("duplicateOf"):  # docs/duplicates.md
            headers["CoreViz-Duplicate-Of"] = str(p.result["duplicateOf"])
    return _tus_headers(headers)


def _int_header(request: Request, name: str) -> int:
    value = request.headers.get(name, "")
    if not value.isdigit() or len(value) > 19:
        raise BadRequest(f"{name} must be a non-negative integer")
    return int(value)


def _check_type(request: Request, *, body_required: bool) -> bool:
    """Whether the request carries a body, which must be a chunk of the file."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    has_body = request.headers.get("content-length", "0") != "0" or \
        "transfer-encoding" in request.headers
    if (has_body or body_required) and ctype != CHUNK_TYPE:
        raise WrongType(f"Send the file's bytes with Content-Type: {CHUNK_TYPE}")
    return has_body


async def _take_body(request: Request, db: Db, principal: Member, store: Blobs,
                     settings: Config, urls: Urls, p: tus.Progress) -> tus.Progress:
    checksum = digests.upload_checksum(request.headers.get("upload-checksum"))
    digest = digests.content_digest(request.headers.get("content-digest"))
    room = p.length - p.offset
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > room:
        raise too_large_chunk(room)
    with await run_in_threadpool(tus.start_append, store, p) as append:
        if append.stale_tail():  # a failed request's bytes, unless the row moved meanwhile
            await run_in_threadpool(tus.confirm_offset, db, principal, store, p.id, p.offset)
            append.drop_stale_tail()
        check = checksum is not None or digest is not None
        whole = tus.running_hash(store, p)
        # The file's first bytes, checked: the chunk's hash is the file's so far, so one pass.
        shared = whole is not None and check and p.offset == 0

        async def record(running: hashlib._Hash | None) -> tus.Progress:
            """The store commits this request's bytes, then the row's offset advances."""
            return await run_in_threadpool(tus.append, db, principal, store, settings, p.id,
                                           p.offset, append, bytes(body.head), running)

        try:
            async with db_place_lent(request):
                body = await receive_chunk(request.stream(), room, append, check=check,
                                           whole=None if shared else whole)
        except BaseException:
            await run_in_threadpool(append.abort)
            raise
        if body.cut is not None:
            if body.checked is None and body.size:
                await record(whole)
            else:
                await run_in_threadpool(append.abort)
            if isinstance(body.cut, ClientDisconnect):  # nobody hears this; no 500 logged
                raise BadRequest("The body ended early (the client went away); what arrived "
                                 "was kept unless a checksum was sent: ask HEAD for the offset")
            raise body.cut
        if body.checked is not None:
            try:
                digests.check(body.checked, digest=digest, checksum=checksum)
            except AppError:
                await run_in_threadpool(append.abort)
                raise
            if shared:
                whole = body.checked.copy()
        p = await record(whole)
    if p.offset == p.length:
        p = await run_in_threadpool(tus.finish, db, principal, store, settings, urls, p.id)
    return p


async def _finished(db: Db, principal: Member, store: Blobs, settings: Config, urls: Urls,
                    p: tus.Progress) -> tus.Progress:
    """An upload that holds every byte but is not media yet (the process that recorded its last
    byte went away before, or while, making the media): made media now. A tus client that
    resumes asks HEAD and, seeing the whole length, sends nothing more, so this is where it
    must happen. Another request finishing it at this moment: answered as it stands."""
    if p.offset < p.length or p.result is not None:
        return p
    try:
        return await run_in_threadpool(tus.finish, db, principal, store, settings, urls, p.id)
    except Locked:
        return p


async def _no_body(request: Request) -> None:
    """A PATCH of a complete upload may carry nothing."""
    async for chunk in request.stream():
        if chunk:
            raise too_large_chunk(0)


def _with_tus_headers(exc: AppError) -> AppError:
    exc.headers = {**_tus_headers(), **exc.headers}
    return exc


@router.options("/tus", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def options(_: Viewer, settings: Config) -> Response:
    """What this tus server supports."""
    return Response(status_code=204, headers={
        "Tus-Resumable": VERSION, "Tus-Version": VERSION, "Tus-Extension": EXTENSIONS,
        "Tus-Checksum-Algorithm": "sha256", "Tus-Max-Size": str(settings.max_upload_bytes)})


@router.post("/tus", status_code=status.HTTP_201_CREATED, response_class=Response,
             openapi_extra=_doc("Tus-Resumable", "Upload-Length", "Upload-Metadata",
                                "Upload-Checksum", "Content-Digest", body=True),
             responses=_WRITE_ERRORS)
async def create(request: Request, db: Db, principal: Member, store: Blobs, settings: Config,
                 urls: Urls) -> Response:
    """Create an upload. Headers: Tus-Resumable 1.0.0, Upload-Length, Upload-Metadata
    (base64 values: datasetId, path?, name?, versionOf?, filename?); optionally the first
    chunk as the body (Content-Type application/offset+octet-stream, Upload-Checksum and
    Content-Digest as for PATCH). Answers 201 with Location (the upload's URL)."""
    try:
        _require_tus(request)
        if "upload-defer-length" in request.headers:
            raise BadRequest("Upload-Defer-Length is not supported: send Upload-Length")
        length = _int_header(request, "upload-length")
        if length > settings.max_upload_bytes:
            raise too_large(settings.max_upload_bytes)
        has_body = _check_type(request, body_required=False)
        metadata = tus.parse_metadata(request.headers.get("upload-metadata"))
        p = await run_in_threadpool(tus.create, db, principal, store, settings, length,
                                    metadata)
        location = {"Location": f"{PREFIX}/{p.id}"}
        try:
            if has_body:
                p = await _take_body(request, db, principal, store, settings, urls, p)
        except AppError as exc:  # the upload exists: say where, so the client can resume
            exc.headers = {**location, **exc.headers}
            raise
        return Response(status_code=201, headers={**_state(p), **location})
    except AppError as exc:
        raise _with_tus_headers(exc) from None


@router.head("/tus/{upload_id}", response_class=Response, responses=_TUS_ERRORS,
             openapi_extra=_doc("Tus-Resumable"))
async def head(request: Request, upload_id: uuid.UUID, db: Db, principal: Member,
               store: Blobs, settings: Config, urls: Urls) -> Response:
    """The upload's offset (Upload-Offset) and length; once finished, CoreViz-Media-Id."""
    try:
        _require_tus(request)
        p = await run_in_threadpool(tus.progress, db, principal, upload_id, store)
        p = await _finished(db, principal, store, settings, urls, p)
        return Response(status_code=200, headers=_state(p))
    except AppError as exc:
        raise _with_tus_headers(exc) from None


@router.get("/tus/{upload_id}", response_model=UploadResult,
            responses={**_TUS_ERRORS, 409: {"description": "The upload is not finished"}})
async def result(upload_id: uuid.UUID, db: Db, principal: Member, store: Blobs,
                 settings: Config, urls: Urls, response: Response) -> UploadResult:
    """A finished upload's answer: the same JSON as POST /api/upload/multipart's."""
    p = await run_in_threadpool(tus.progress, db, principal, upload_id, store)
    p = await _finished(db, principal, store, settings, urls, p)
    if p.result is None:
        raise Conflict(f"The upload is not finished: {p.offset:,} of {p.length:,} bytes")
    response.headers.update(_state(p))
    return UploadResult.model_validate(p.result)


@router.patch("/tus/{upload_id}", status_code=status.HTTP_204_NO_CONTENT,
              response_class=Response, responses=_WRITE_ERRORS,
              openapi_extra=_doc("Tus-Resumable", "Upload-Offset", "Upload-Checksum",
                                 "Content-Digest", body=True))
async def patch(request: Request, upload_id: uuid.UUID, db: Db, principal: Member,
                store: Blobs, settings: Config, urls: Urls) -> Response:
    """Append a chunk at Upload-Offset (Content-Type application/offset+octet-stream). With
    Upload-Checksum (sha256 <base64>) or Content-Digest (sha-256=:<base64>:) the chunk is
    checked first and dropped on a mismatch (460, 400). The one that completes the file
    answers CoreViz-Media-Id and CoreViz-Media-Url besides Upload-Offset."""
    try:
        _require_tus(request)
        _check_type(request, body_required=True)
        offset = _int_header(request, "upload-offset")
        p = await run_in_threadpool(tus.progress, db, principal, upload_id, store)
        if offset != p.offset:
            raise Conflict(f"Upload-Offset is {offset}, but the upload holds {p.offset} bytes "
                           "(ask with HEAD)")
        if p.offset == p.length:  # every byte is in: nothing to append, only to finish
            await _no_body(request)
            p = await _finished(db, principal, store, settings, urls, p)
        else:
            p = await _take_body(request, db, principal, store, settings, urls, p)
        return Response(status_code=204, headers=_state(p))
    except AppError as exc:
        raise _with_tus_headers(exc) from None


@router.delete("/tus/{upload_id}", status_code=status.HTTP_204_NO_CONTENT,
               response_class=Response, openapi_extra=_doc("Tus-Resumable"),
               responses={**_TUS_ERRORS, 423: {"description": "A PATCH is in progress"}})
async def terminate(request: Request, upload_id: uuid.UUID, db: Db, principal: Member,
                    store: Blobs) -> Response:
    """Remove the upload and what it stored (termination); a finished one's media stays."""
    try:
        _require_tus(request)
        await run_in_threadpool(tus.terminate, db, principal, store, upload_id)
        return Response(status_code=204, headers=_tus_headers())
    except AppError as exc:
        raise _with_tus_headers(exc) from None
