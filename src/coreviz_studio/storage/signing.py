"""Signed blob URLs (private blobs): `?expires=<unix seconds>&signature=<hex>`, an HMAC-SHA256
of the key and the expiry under a secret every server process shares (blobs/secret.py).

An expiry is rounded up to a window of half the lifetime, so that everyone asking within one
window gets the same URL (a browser's cache keeps working) and every URL handed out stays valid
for at least half the lifetime, at most all of it."""

from __future__ import annotations

import hashlib
import hmac
import time


class Signer:
    def __init__(self, secret: bytes, ttl_seconds: int) -> None:
        self._secret = secret
        self._window = max(1, ttl_seconds // 2)

    def _mac(self, key: str, expires: int) -> str:
        return hmac.new(self._secret, f"{key}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def query(self, key: str, now: float | None = None) -> str:
        now = time.time() if now is None else now
        expires = (int(now) // self._window + 2) * self._window
        return f"expires={expires}&signature={self._mac(key, expires)}"

    def valid(self, key: str, expires: int | None, signature: str | None,
              now: float | None = None) -> bool:
        if expires is None or not signature:
            return False
        now = time.time() if now is None else now
        return expires > now and hmac.compare_digest(self._mac(key, expires), signature)
