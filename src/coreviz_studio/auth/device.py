"""Device login (RFC 8628) in the shape of better-auth's device-authorization plugin.

A device asks for a code pair, shows the person the short user code, and polls for a token; the
person signs in on the verification page and approves or denies. The device code is stored as a
hash and works once; user codes are 8 characters from 32 (40 bits). Requests for codes and failed
lookups of user codes are limited per address (ratelimit.py); expired codes are purged as new
ones are made.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from coreviz_studio import ratelimit
from coreviz_studio.auth.principal import Principal
from coreviz_studio.auth.secrets import hash_secret
from coreviz_studio.auth.service import create_session
from coreviz_studio.config import Settings
from coreviz_studio.db.tables import DeviceCode
from coreviz_studio.errors import AppError

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
USER_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: easy to read and type
USER_CODE_LENGTH = 8
CODE_TTL = timedelta(minutes=30)
INTERVAL_SECONDS = 5
SLOW_DOWN_STEP = 5  # RFC 8628 3.5: each slow_down adds 5 seconds to the interval
# Kept this long past expiry, so a late poll still hears "expired_token" rather than "invalid".
PURGE_AFTER = timedelta(minutes=10)
PURGE_BATCH = 100
_PURGE = text(
    "DELETE FROM device_codes WHERE id IN (SELECT id FROM device_codes WHERE expires_at < :before"
    " ORDER BY expires_at LIMIT :n FOR UPDATE SKIP LOCKED)")


class OAuthError(AppError):
    """An RFC 6749/8628 error: the body is {"error": code, "error_description": ...}."""

    status = 400

    def __init__(self, error: str, description: str, status: int = 400,
                 keep_changes: bool = False) -> None:
        super().__init__(description, status=status, code=error)
        self.error = error
        self.keep_changes = keep_changes


def _now() -> datetime:
    return datetime.now(UTC)


def normalize_user_code(code: str) -> str:
    return "".join(c for c in code.upper() if c.isalnum())


def display_user_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def request_code(session: Session, client_id: str, scope: str | None, client: str,
                 settings: Settings) -> dict[str, object]:
    ratelimit.take(session, ratelimit.device_codes_by_source(settings).key(
        ratelimit.source(client)))
    session.execute(_PURGE, {"before": _now() - PURGE_AFTER, "n": PURGE_BATCH})
    device_code = secrets.token_urlsafe(32)
    user_code = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))
    row = DeviceCode(id=uuid.uuid4(), device_code_hash=hash_secret(device_code),
                     user_code=user_code, client_id=client_id, scope=scope, status="pending",
                     interval_seconds=INTERVAL_SECONDS, expires_at=_now() + CODE_TTL)
    session.add(row)
    session.flush()
    page = f"{settings.effective_public_url()}/device"
    return {
        "device_code": device_code,
        "user_code": display_user_code(user_code),
        "verification_uri": page,
        "verification_uri_complete": f"{page}?user_code={display_user_code(user_code)}",
        "expires_in": int(CODE_TTL.total_seconds()),
        "interval": INTERVAL_SECONDS,
    }


def poll(session: Session, grant_type: str, device_code: str, client_id: str,
         session_ttl: timedelta) -> dict[str, object]:
    """One poll of the token endpoint: the token once approved, else the RFC's errors."""
    if grant_type != GRANT_TYPE:
        raise OAuthError("unsupported_grant_type", f"grant_type must be {GRANT_TYPE}")
    row = session.scalars(select(DeviceCode).where(
        DeviceCode.device_code_hash == hash_secret(device_code)).with_for_update()).one_or_none()
    if row is None or row.status == "consumed":
        raise OAuthError("invalid_grant", "Invalid device code")
    if row.client_id != client_id:
        raise OAuthError("invalid_grant", "Client ID mismatch")
    now = _now()
    if row.expires_at <= now:
        raise OAuthError("expired_token", "Device code has expired")
    if row.status == "denied":
        row.status = "consumed"
        raise OAuthError("access_denied", "Access denied", keep_changes=True)
    too_soon = (row.last_polled_at is not None
                and now - row.last_polled_at < timedelta(seconds=row.interval_seconds))
    row.last_polled_at = now
    if too_soon:
        row.interval_seconds += SLOW_DOWN_STEP
        raise OAuthError("slow_down", f"Polling too fast; wait {row.interval_seconds} s between "
                         "polls", keep_changes=True)
    if row.status == "pending":
        raise OAuthError("authorization_pending", "Authorization pending", keep_changes=True)
    assert row.user_id is not None
    row.status = "consumed"
    _, token = create_session(session, row.user_id, row.organization_id, session_ttl,
                              user_agent=f"device:{row.client_id}")
    return {"access_token": token, "token_type": "Bearer",
            "expires_in": int(session_ttl.total_seconds()), "scope": row.scope or ""}


def find(session: Session, user_code: str, client: str, settings: Settings,
         for_update: bool = False) -> DeviceCode:
    """An unexpired request by its user code; unknown codes count against `client`.
    Errors are better-auth's: 400 invalid_request or expired_token."""
    key = ratelimit.user_codes_by_source(settings).key(ratelimit.source(client))
    ratelimit.take(session, key)
    stmt = select(DeviceCode).where(DeviceCode.user_code == normalize_user_code(user_code))
    if for_update:
        stmt = stmt.with_for_update()
    row = session.scalars(stmt).one_or_none()
    if row is None:
        raise OAuthError("invalid_request", "Invalid user code")
    ratelimit.give_back(session, key)  # a real code, even an expired one, is not a guess
    if row.expires_at <= _now():
        raise OAuthError("expired_token", "User code has expired")
    return row


def decide(session: Session, principal: Principal, user_code: str, approve: bool,
           client: str, settings: Settings) -> DeviceCode:
    principal.require_unscoped("answering a device login")
    row = find(session, user_code, client, settings, for_update=True)
    if row.status != "pending":
        raise OAuthError("invalid_request", "Device code already processed")
    row.status = "approved" if approve else "denied"
    row.user_id = principal.user_id
    row.organization_id = principal.organization_id
    session.flush()
    return row
