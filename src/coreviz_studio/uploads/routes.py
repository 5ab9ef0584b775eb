"""HTTP for uploads: the body is streamed, never read whole."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from starlette.concurrency import run_in_threadpool

from coreviz_studio import ids
from coreviz_studio.deps import Blobs, Config, Db, Member, Urls, db_place_lent
from coreviz_studio.media.paths import QUERY_PATTERN
from coreviz_studio.uploads import digest, service
from coreviz_studio.uploads.receive import receive, too_large
from coreviz_studio.uploads.schemas import UploadResult

router = APIRouter(prefix="/api", tags=["upload"])
# Room for the multipart framing and the text fields around the file.
_FORM_OVERHEAD = 64 * 1024
# The body is read by hand (streamed), so its form is described here for /docs and clients.
_FORM_SCHEMA = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file", "datasetId"], "additionalProperties": False,
    "properties": {
        "file": {"type": "string", "format": "binary"},
        "datasetId": {"type": "string", "pattern": ids.PATTERN,
                      "description": "The collection to upload into"},
        "path": {"type": "string", "pattern": QUERY_PATTERN,
                 "description": "A folder's path (default: the root)"},
        "name": {"type": "string", "description": "The name to show (default: the filename)"},
        "versionOf": {"type": "string", "pattern": f"^$|{ids.PATTERN}",  # empty: none
                      "description": "Make the file a new version of this media item"},
    }}}}}}


@router.post("/upload/multipart", response_model=UploadResult,
             status_code=status.HTTP_201_CREATED, openapi_extra=_FORM_SCHEMA,
             responses={400: {"description": "Malformed form, or a Content-Digest mismatch"},
                        404: {"description": "No such collection or folder"},
                        413: {"description": "The file is over the upload limit"},
                        415: {"description": "Not a supported image, video or PDF"},
                        507: {"description": "The server's disk is full"}})
async def upload(request: Request, db: Db, principal: Member, store: Blobs,
                 settings: Config, urls: Urls) -> UploadResult:
    """Multipart form: `file` (the bytes), `datasetId`, `path?` (a folder's path), `name?`,
    `versionOf?` (a media id: the file becomes that item's new active version). A
    `Content-Digest: sha-256=:<base64>:` header (RFC 9530, of the whole body as sent) is
    checked: a mismatch is a 400 and nothing is stored."""
    await run_in_threadpool(service.before_streaming, db, principal)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.max_upload_bytes + _FORM_OVERHEAD:
        raise too_large(settings.max_upload_bytes)
    expected = digest.content_digest(request.headers.get("content-digest"))
    async with db_place_lent(request):
        received = await receive(request.stream(), request.headers.get("content-type"),
                                 store, settings.max_upload_bytes, expected)
    return await run_in_threadpool(service.store_upload, db, principal, received, store,
                                   settings, urls)
