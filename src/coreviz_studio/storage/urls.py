"""Public blob URLs: `<public url>/blobs/<key>`. The key is random, so the URL is unguessable."""

from __future__ import annotations

BLOB_ROUTE = "/blobs"


class BlobUrls:
    def __init__(self, public_url: str) -> None:
        self._base = public_url.rstrip("/") + BLOB_ROUTE + "/"

    def of(self, key: str | None) -> str | None:
        return self._base + key if key else None
