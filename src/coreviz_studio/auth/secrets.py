"""Secrets shown once and stored only as hashes.

API keys and session tokens carry 256 random bits, so a fast hash (SHA-256) is the right
storage; argon2 is for passwords, which people choose.
"""

from __future__ import annotations

import hashlib
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

API_KEY_PREFIX = "cvz_"
_VISIBLE = len(API_KEY_PREFIX) + 8
# argon2id with argon2-cffi's defaults (RFC 9106's low-memory profile: 3 passes, 64 MiB, 4 lanes).
PASSWORD_HASHER = PasswordHasher()


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_api_key() -> tuple[str, str]:
    """(the key, the visible prefix people recognise it by)."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[:_VISIBLE]


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def hash_password(password: str) -> str:
    return PASSWORD_HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """False for a wrong password or no password set; the work is done either way."""
    try:
        return PASSWORD_HASHER.verify(password_hash or _dummy_hash(), password) and (
            password_hash is not None)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    """Verified against when a user has no password, so that case takes as long as a wrong one;
    made on first use, not at import (every CLI start imports this module)."""
    return PASSWORD_HASHER.hash("no password is set for this user")
