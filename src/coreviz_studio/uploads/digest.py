"""Checksums a client sends with its bytes: RFC 9530 `Content-Digest` (of the request's content
as sent) and tus's `Upload-Checksum` (of one PATCH's body). Only SHA-256 is checked.

Content-Digest may list several algorithms; the ones we don't know are ignored, as RFC 9530
allows, so a header naming only others (sha-512, say) checks nothing. A sha-256 entry that is
not 32 bytes of base64 is a 400, as is a mismatch: nothing of that body is kept.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from coreviz_studio.errors import BadRequest, ChecksumMismatch

_SHA256_BYTES = 32


def _b64(value: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{what}: the digest is not base64") from None
    if len(raw) != _SHA256_BYTES:
        raise BadRequest(f"{what}: a sha-256 digest is {_SHA256_BYTES} bytes, not {len(raw)}")
    return raw


def content_digest(header: str | None) -> bytes | None:
    """The sha-256 a Content-Digest header expects, or None when it names no sha-256."""
    if header is None:
        return None
    found = None
    for member in header.split(","):
        name, sep, value = member.strip().partition("=")
        if not sep:
            raise BadRequest("Content-Digest: expected 'sha-256=:<base64>:' (RFC 9530)")
        if name.strip().lower() != "sha-256":
            continue  # another algorithm: ignored (RFC 9530 section 2)
        value = value.strip()
        if len(value) < 2 or value[0] != ":" or value[-1] != ":":
            raise BadRequest("Content-Digest: a digest is a byte sequence, ':<base64>:'")
        found = _b64(value[1:-1], "Content-Digest")
    return found


def upload_checksum(header: str | None) -> bytes | None:
    """The sha-256 a tus Upload-Checksum header ('sha256 <base64>') expects, or None."""
    if header is None:
        return None
    algorithm, _, value = header.strip().partition(" ")
    if algorithm.lower() != "sha256":
        raise BadRequest(f"Upload-Checksum: unsupported algorithm '{algorithm[:20]}'; this "
                         "server checks sha256 (Tus-Checksum-Algorithm)")
    return _b64(value, "Upload-Checksum")


def check(hasher: hashlib._Hash, *, digest: bytes | None, checksum: bytes | None) -> None:
    """Compare what was received with what the client said it sent."""
    got = hasher.digest()
    if digest is not None and got != digest:
        raise BadRequest("Content-Digest mismatch: the body received is not the one whose "
                         "sha-256 was sent; nothing of it was stored", code="digest_mismatch")
    if checksum is not None and got != checksum:
        raise ChecksumMismatch("Upload-Checksum mismatch: the chunk received is not the one "
                               "whose sha256 was sent; it was not stored",
                               code="checksum_mismatch")
