"""GET/HEAD /blobs/{key}: public (the key is the secret), immutable, with Range and ETag."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from coreviz_studio.blobs import service
from coreviz_studio.deps import Blobs
from coreviz_studio.storage.urls import BLOB_ROUTE

router = APIRouter(prefix=BLOB_ROUTE, tags=["blobs"])


@router.head("/{key:path}", response_model=None, include_in_schema=False)
@router.get("/{key:path}", response_model=None)
def get_blob(key: str, request: Request, store: Blobs) -> Response:
    blob = service.find(store, key)
    headers = {"etag": blob.etag, "cache-control": "public, max-age=31536000, immutable",
               "x-content-type-options": "nosniff",
               "content-security-policy": "default-src 'none'; sandbox"}
    if request.headers.get("if-none-match") in (blob.etag, f"W/{blob.etag}", "*"):
        return Response(status_code=304, headers=headers)
    return FileResponse(blob.path, media_type=blob.mime, headers=headers,
                        content_disposition_type="inline")
