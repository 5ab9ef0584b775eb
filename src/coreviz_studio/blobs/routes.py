"""GET/HEAD /blobs/{key}: public (the key is the secret), immutable, with Range and ETag."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from starlette.responses import MalformedRangeHeader

from coreviz_studio.blobs import service
from coreviz_studio.deps import Blobs, Public
from coreviz_studio.storage.urls import BLOB_ROUTE

router = APIRouter(prefix=BLOB_ROUTE, tags=["blobs"])


class _BlobFile(FileResponse):
    """RFC 9110 14.2: a Range header that cannot be parsed is ignored (the whole file, 200),
    not a plain-text 400."""

    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        try:
            return super()._parse_range_header(http_range, file_size)
        except MalformedRangeHeader:
            return []


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


@router.head("/{key:path}", response_model=None, include_in_schema=False, dependencies=[Public])
@router.get("/{key:path}", response_model=None, dependencies=[Public])
def get_blob(key: str, request: Request, store: Blobs) -> Response:
    blob = service.find(store, key)
    headers = {"etag": blob.etag, "cache-control": "public, max-age=31536000, immutable",
               "x-content-type-options": "nosniff",
               "content-security-policy": "default-src 'none'; sandbox"}
    if _matches(request.headers.get("if-none-match"), blob.etag):
        return Response(status_code=304, headers=headers)
    return _BlobFile(blob.path, media_type=blob.mime, headers=headers,
                        content_disposition_type="inline")
