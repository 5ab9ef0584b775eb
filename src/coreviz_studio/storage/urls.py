"""Blob URLs: `<public url>/blobs/<key>`. The key is random, so the URL is unguessable; with
private blobs a signature that expires is added (storage/signing.py)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from coreviz_studio.storage.signing import Signer

BLOB_ROUTE = "/blobs"


@dataclass(frozen=True)
class OwnBlob:
    """What one of our blob URLs names: the key, and the signature it carries, if any."""

    key: str
    expires: int | None
    signature: str | None


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

    def parse(self, url: str) -> OwnBlob | None:
        """The blob a URL of this server names (as `of` makes them: same scheme, host and
        port as the public URL), or None for any other URL."""
        if not url.startswith(self._base):
            return None
        parts = urlsplit(url)
        key = parts.path[len(urlsplit(self._base).path):]
        query = parse_qs(parts.query)
        expires = query.get("expires", [""])[0]
        return OwnBlob(key, int(expires) if expires.isdigit() and len(expires) < 19 else None,
                       query.get("signature", [None])[0])
