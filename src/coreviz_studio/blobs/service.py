"""Find a blob by key, decide whether it may be served, and work out which bytes a request asks
for; an unknown or malformed key is simply not found, and so is the blob of a trashed item."""

from __future__ import annotations

import re
from dataclasses import dataclass

from coreviz_studio.auth import service as auth_service
from coreviz_studio.blobs import refs
from coreviz_studio.db.session import Database
from coreviz_studio.errors import BadRequest, NotFound, Unauthorized
from coreviz_studio.formats import mime_for_ext
from coreviz_studio.storage.base import BlobStore, NotStored, etag_of
from coreviz_studio.storage.signing import Signer
from coreviz_studio.storage.urls import BlobUrls

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass
class Blob:
    key: str
    size: int
    mime: str
    etag: str


def find(store: BlobStore, key: str) -> Blob:
    stored = store.stat(key)
    if stored is None:
        raise NotFound("Blob not found")
    return Blob(key=key, size=stored.size, mime=mime_for_ext(key.rsplit(".", 1)[-1]),
                etag=etag_of(key))


def check_access(db: Database, key: str, signer: Signer | None,
                 credential: tuple[str | None, str | None], expires: int | None,
                 signature: str | None) -> list[refs.Holder]:
    """The active items holding the key; 404 when there is none (a trashed item's blobs are not
    served, and come back with it). Private blobs (`signer` set) also need a valid signature,
    or a credential of the item's organization (401 without either; another organization's
    caller gets 404)."""
    held = [h for h in refs.holders(db, [key]).get(key, []) if h.active]
    if not held:
        raise NotFound("Blob not found")
    if signer is None or signer.valid(key, expires, signature):
        return held
    if credential == (None, None):
        raise Unauthorized("This blob is private: send an API key or a session, or use the "
                           "signed URL (not expired) that the API's answers give")
    with db.sessions() as session:
        principal = auth_service.authenticate(session, *credential)
        session.commit()  # authenticate notes when the credential was last used
    if not any(h.organization_id == principal.organization_id
               and (principal.dataset_ids is None or h.dataset_id in principal.dataset_ids)
               for h in held):
        raise NotFound("Blob not found")
    return held


def own_bytes(db: Database, store: BlobStore, urls: BlobUrls, url: str,
              credential: tuple[str | None, str | None], max_bytes: int) -> bytes | None:
    """The bytes behind one of this server's blob URLs, read from the store by the rules a GET
    of the URL would meet (a trashed item's: 404; private ones: the signature or the caller's
    organization), or None for any other URL. /api/ai takes an image this way rather than over
    HTTP, which its fetcher refuses for a server on a private or loopback address."""
    own = urls.parse(url.strip())
    if own is None:
        return None
    check_access(db, own.key, urls.signer, credential, own.expires, own.signature)
    blob = find(store, own.key)
    if blob.size > max_bytes:
        raise BadRequest(f"image is larger than {max_bytes} bytes")
    try:
        return b"".join(store.read(own.key))
    except NotStored:
        raise NotFound("Blob not found") from None


def is_thumbnail(held: list[refs.Holder]) -> bool:
    """Whether the blob is only ever an item's thumbnail: the one kind browsers may keep without
    asking again (docs/thumbnails.md)."""
    return all(h.role == "thumbnail" for h in held)


class Unsatisfiable(Exception):
    """A range that lies wholly past the end (416)."""


def byte_range(header: str | None, if_range: str | None, blob: Blob) -> tuple[int, int] | None:
    """The one range [start, end) a Range header asks for, or None for the whole blob.

    RFC 9110 14.2: a header that cannot be parsed, or several ranges, are ignored (the whole
    blob, 200); an If-Range that does not match our entity tag asks for the whole blob too."""
    if not header or (if_range is not None and if_range.strip() != blob.etag):
        return None
    found = _RANGE.match(header.strip().replace(" ", ""))
    if found is None:
        return None
    first, last = found.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        n = int(last)
        if n == 0:
            raise Unsatisfiable
        return max(0, blob.size - n), blob.size
    start = int(first)
    end = blob.size if not last else min(int(last) + 1, blob.size)
    if last and int(last) < start:
        return None
    if start >= blob.size:
        raise Unsatisfiable
    return start, end
