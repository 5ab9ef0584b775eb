"""GET/HEAD /blobs/{key}: public (the key is the secret) unless blobs are private (then a
signature or a credential), served only while an active item holds the key; with Range and ETag.
The bytes stream from the blob store."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from coreviz_studio.blobs import service
from coreviz_studio.deps import AppDatabase, Blobs, Config, Public, Urls, request_credential
from coreviz_studio.errors import NotFound
from coreviz_studio.storage.base import NotStored
from coreviz_studio.storage.urls import BLOB_ROUTE

router = APIRouter(prefix=BLOB_ROUTE, tags=["blobs"])


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


# A blob never changes, but whether it may be served does (trash, restore, purge): caches keep
# it and ask again each time (no-cache), which the ETag makes a cheap 304 that sees a delete at
# once. Private blobs are for one browser only, never a shared cache.
PUBLIC_CACHE = "public, no-cache"
PRIVATE_CACHE = "private, no-cache"
# An item's thumbnail is the exception: its key is never reused (a reprocess makes a new one)
# and the grid loads hundreds, so browsers keep it for a year without asking; the price is that
# a copy already kept outlives a trash (docs/thumbnails.md). The server still answers 404.
THUMBNAIL_CACHE = "public, max-age=31536000, immutable"
PRIVATE_THUMBNAIL_CACHE = "private, max-age=31536000, immutable"
# Thumbnails and frames: answered in one piece (the grid asks for a hundred at a time).
SMALL = 256 * 1024
_PRIVATE: dict[int | str, dict[str, Any]] = {
    401: {"description": "Private blobs: neither a valid signature nor a credential"}}
Expires = Annotated[int | None, Query(ge=0, description="Private blobs: when the signature "
                                      "expires (unix seconds), as signed URLs carry it")]
Signature = Annotated[str | None, Query(max_length=128, description="Private blobs: the "
                                        "signature of the key and `expires`")]


@router.head("/{key:path}", response_model=None, include_in_schema=False, dependencies=[Public],
             responses=_PRIVATE)
@router.get("/{key:path}", response_model=None, dependencies=[Public], responses=_PRIVATE)
def get_blob(key: str, request: Request, store: Blobs, db: AppDatabase, urls: Urls,
             settings: Config, expires: Expires = None,
             signature: Signature = None) -> Response:
    held = service.check_access(db, key, urls.signer, request_credential(request), expires,
                                signature)
    blob = service.find(store, key)
    thumbnail = service.is_thumbnail(held)
    # Never for a thumbnail: small, and a redirect's changing URL would defeat its caching.
    if settings.blob_redirect and request.method == "GET" and not thumbnail and (
            url := store.presigned_url(key, settings.signed_url_ttl_seconds)) is not None:
        # The bytes come from S3 itself; the URL expires, so the redirect is never cached.
        return Response(status_code=307, headers={"location": url, "cache-control": "no-store"})
    if thumbnail:
        cache = THUMBNAIL_CACHE if urls.signer is None else PRIVATE_THUMBNAIL_CACHE
    else:
        cache = PUBLIC_CACHE if urls.signer is None else PRIVATE_CACHE
    headers = {"etag": blob.etag, "cache-control": cache,
               "accept-ranges": "bytes", "x-content-type-options": "nosniff",
               "content-security-policy": "default-src 'none'; sandbox",
               "content-disposition": "inline"}
    if _matches(request.headers.get("if-none-match"), blob.etag):
        return Response(status_code=304, headers=headers)
    try:
        wanted = service.byte_range(request.headers.get("range"),
                                    request.headers.get("if-range"), blob)
    except service.Unsatisfiable:
        return Response(status_code=416, headers={**headers,
                                                  "content-range": f"bytes */{blob.size}"})
    start, end, status = 0, blob.size, 200
    if wanted is not None:
        (start, end), status = wanted, 206
        headers["content-range"] = f"bytes {start}-{end - 1}/{blob.size}"
    headers["content-length"] = str(end - start)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=blob.mime)
    try:
        chunks = store.read(key, start, end)
        if end - start <= SMALL:  # read here, in this thread: a stream costs a hop per chunk
            return Response(b"".join(chunks), status_code=status, headers=headers,
                            media_type=blob.mime)
    except NotStored:  # deleted since it was found
        raise NotFound("Blob not found") from None
    return StreamingResponse(chunks, status_code=status, headers=headers, media_type=blob.mime)
