"""Password sign-in and bearer sessions (better-auth's email sign-in, sign-out, get-session).

Wrong password, unknown email and a user without a password all answer the same 401 in the same
time (argon2 runs every time). Failures slow down the address that makes them (per account, and
across accounts), never the account itself: its owner signs in from elsewhere at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from coreviz_studio import ratelimit
from coreviz_studio.auth.principal import Person, Principal
from coreviz_studio.auth.secrets import verify_password
from coreviz_studio.auth.service import create_session, same_email
from coreviz_studio.config import Settings
from coreviz_studio.db.tables import ApiKey, AuthSession, Membership, User
from coreviz_studio.errors import Unauthorized


@dataclass(frozen=True)
class SignedIn:
    user: User
    session: AuthSession
    token: str


def _first_organization(session: Session, user: User) -> uuid.UUID | None:
    if user.active_organization_id is not None:
        return user.active_organization_id
    return session.scalar(select(Membership.organization_id).where(
        Membership.user_id == user.id).order_by(Membership.created_at).limit(1))


def sign_in(session: Session, email: str, password: str, ttl: timedelta, client: str,
            user_agent: str | None, settings: Settings) -> SignedIn:
    source = ratelimit.source(client)
    keys = (ratelimit.sign_in_by_account(settings).key(source, email.strip().lower()),
            ratelimit.sign_in_by_source(settings).key(source))
    ratelimit.take(session, *keys)  # before argon2: a waiting address costs no CPU
    user = session.scalars(select(User).where(same_email(email))).one_or_none()
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok:
        raise Unauthorized("Invalid email or password", code="INVALID_EMAIL_OR_PASSWORD")
    ratelimit.give_back(session, *keys)
    org_id = _first_organization(session, user)
    row, token = create_session(session, user.id, org_id, ttl, user_agent=user_agent,
                                ip_address=client)
    return SignedIn(user, row, token)


def sign_out(session: Session, caller: Person | Principal) -> None:
    """Revoke the session the request came with (an API key is revoked by its own endpoint)."""
    if isinstance(caller, Person):
        session_id = caller.session_id
    elif caller.method == "session":
        session_id = caller.credential_id
    else:
        return
    row = session.get(AuthSession, session_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        session.flush()


@dataclass(frozen=True)
class SessionInfo:
    user: User
    id: object
    expires_at: datetime | None
    created_at: datetime
    active_organization_id: object
    method: str


def session_info(session: Session, principal: Principal) -> SessionInfo:
    user = session.get(User, principal.user_id)
    if user is None:
        raise Unauthorized()
    row: AuthSession | ApiKey | None
    if principal.method == "session":
        row = session.get(AuthSession, principal.credential_id)
    else:
        row = session.get(ApiKey, principal.credential_id)
    if row is None:
        raise Unauthorized()
    return SessionInfo(user=user, id=row.id, expires_at=row.expires_at, created_at=row.created_at,
                       active_organization_id=principal.organization_id, method=principal.method)
