"""Blob URLs: `<public url>/blobs/<key>`. The key is random, so the URL is unguessable; with
private blobs a signature that expires is added (storage/signing.py)."""

from __future__ import annotations

from coreviz_studio.storage.signing import Signer

BLOB_ROUTE = "/blobs"


class BlobUrls:
    def __init__(self, public_url: str, signer: Signer | None = None) -> None:
        self._base = public_url.rstrip("/") + BLOB_ROUTE + "/"
        self.signer = signer  # set: blobs are private, URLs are signed

    def of(self, key: str | None) -> str | None:
        if not key:
            return None
        if self.signer is None:
            return self._base + key
        return f"{self._base}{key}?{self.signer.query(key)}"
