"""Credentials: API keys and bearer sessions, and turning either into a Principal."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from coreviz_studio.auth.principal import Person, Principal, Role
from coreviz_studio.auth.secrets import (
    API_KEY_PREFIX,
    hash_secret,
    new_api_key,
    new_session_token,
)
from coreviz_studio.db.tables import ApiKey, AuthSession, Membership, User
from coreviz_studio.errors import Forbidden, NotFound, Unauthorized

# last_used_at is advisory: write it at most once a minute per credential, not on every request.
_TOUCH_EVERY = timedelta(minutes=1)


def same_email(email: str) -> ColumnElement[bool]:
    """SQL: the user's email equals `email`, ignoring case the way the unique index does
    (PostgreSQL's lower() on both sides; Python's would disagree on some letters)."""
    return func.lower(User.email) == func.lower(email.strip())


def _now() -> datetime:
    return datetime.now(UTC)


def _touch(session: Session, model: type[ApiKey] | type[AuthSession], row_id: uuid.UUID,
           last_used: datetime | None) -> None:
    """Note the use, unless another request of the same credential is doing it right now:
    its row lock lasts until that request's transaction ends, and waiting for it would queue
    every concurrent request of the credential behind each other (bench/load.py found
    20-second convoys). SKIP LOCKED passes by; the predicate stops those that come after."""
    now = _now()
    if last_used is None or now - last_used > _TOUCH_EVERY:
        stale = or_(model.last_used_at.is_(None), model.last_used_at < now - _TOUCH_EVERY)
        free = (select(model.id).where(model.id == row_id, stale)
                .with_for_update(skip_locked=True).scalar_subquery())
        session.execute(update(model).where(model.id == free).values(last_used_at=now))


def _parse(api_key: str | None, authorization: str | None) -> tuple[str | None, str | None]:
    """(an API key, a session token) from the headers; an API key in the Bearer header counts
    as an API key (scripts often put one there)."""
    token = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            token = value.strip()
    if api_key:
        return api_key.strip(), None
    if token and token.startswith(API_KEY_PREFIX):
        return token, None
    return None, token


def authenticate(session: Session, api_key: str | None, authorization: str | None) -> Principal:
    """The caller behind an `x-api-key` or an `Authorization: Bearer` header, or Unauthorized."""
    key, token = _parse(api_key, authorization)
    if key:
        return _by_api_key(session, key)
    if token:
        return _by_session_token(session, token)
    raise Unauthorized()


def authenticate_person(session: Session, api_key: str | None,
                        authorization: str | None) -> Person:
    """The user behind a session token, whether or not they belong to an organization yet;
    an API key is refused (403): it acts for its organization, not for the person."""
    key, token = _parse(api_key, authorization)
    if key:
        _by_api_key(session, key)  # a wrong key is a 401 like everywhere else
        raise Forbidden("Invitations are answered by the person they were sent to: sign in "
                        "(an API key acts only for its organization)")
    if not token:
        raise Unauthorized()
    row = _live_session(session, token)
    user = session.get(User, row.user_id)
    if user is None:
        raise Unauthorized("Invalid or expired session token")
    _touch(session, AuthSession, row.id, row.last_used_at)
    acting = _session_organization(session, row, user)
    return Person(user.id, user.email, row.id, acting[0] if acting else None)


def member_role(session: Session, user_id: uuid.UUID, org_id: uuid.UUID) -> str | None:
    """That user's role in that organization, or None when they are not a member."""
    return session.scalar(select(Membership.role).where(
        Membership.user_id == user_id, Membership.organization_id == org_id))



def _by_api_key(session: Session, key: str) -> Principal:
    # The key and its owner's role in one round trip (every API request starts here).
    found = session.execute(
        select(ApiKey, Membership.role)
        .outerjoin(Membership, and_(Membership.user_id == ApiKey.user_id,
                                    Membership.organization_id == ApiKey.organization_id))
        .where(ApiKey.key_hash == hash_secret(key))).one_or_none()
    now = _now()
    row, role = found if found is not None else (None, None)
    if (row is None or row.revoked_at is not None
            or (row.expires_at is not None and row.expires_at <= now)):
        raise Unauthorized()
    if role is None:  # the key's owner has left the organization
        raise Unauthorized()
    _touch(session, ApiKey, row.id, row.last_used_at)
    scope = None if row.dataset_ids is None else frozenset(row.dataset_ids)
    return Principal(row.user_id, row.organization_id, Role(role), "api_key", row.id,
                     read_only=row.read_only, dataset_ids=scope)


def _live_session(session: Session, token: str) -> AuthSession:
    row = session.scalars(
        select(AuthSession).where(AuthSession.token_hash == hash_secret(token))
    ).one_or_none()
    if row is None or row.revoked_at is not None or row.expires_at <= _now():
        raise Unauthorized("Invalid or expired session token")
    return row


def _session_organization(session: Session, row: AuthSession,
                          user: User | None) -> tuple[uuid.UUID, str] | None:
    """The organization a session acts for and the user's role there: the one the session
    chose, else the user's active one (which only the user's own choice, set-active or
    accepting an invitation, sets); None when the user is not (or no longer) a member."""
    org_id = row.organization_id
    if org_id is None:
        org_id = user.active_organization_id if user else None
    role = member_role(session, row.user_id, org_id) if org_id else None
    return (org_id, role) if org_id and role else None


def _by_session_token(session: Session, token: str) -> Principal:
    row = _live_session(session, token)
    acting = _session_organization(session, row, session.get(User, row.user_id))
    if acting is None:
        raise Unauthorized("This session belongs to no organization")
    org_id, role = acting
    _touch(session, AuthSession, row.id, row.last_used_at)
    return Principal(row.user_id, org_id, Role(role), "session", row.id)


# --- API keys ---------------------------------------------------------------------------------


def create_api_key(session: Session, user_id: uuid.UUID, organization_id: uuid.UUID,
                   name: str = "", expires_at: datetime | None = None, read_only: bool = False,
                   dataset_ids: list[uuid.UUID] | None = None) -> tuple[ApiKey, str]:
    """A new key for that member of that organization: (the row, the secret, shown once).
    `read_only` and `dataset_ids` narrow it (the callers check the collections are the
    organization's); without them it can do all its user can."""
    if member_role(session, user_id, organization_id) is None:
        raise NotFound("User is not a member of that organization")
    secret, prefix = new_api_key()
    row = ApiKey(id=uuid.uuid4(), organization_id=organization_id, user_id=user_id, name=name,
                 prefix=prefix, key_hash=hash_secret(secret), expires_at=expires_at,
                 read_only=read_only, dataset_ids=dataset_ids)
    session.add(row)
    session.flush()
    return row, secret


def list_api_keys(session: Session, organization_id: uuid.UUID,
                  user_id: uuid.UUID | None = None) -> list[ApiKey]:
    stmt = select(ApiKey).where(ApiKey.organization_id == organization_id)
    if user_id is not None:
        stmt = stmt.where(ApiKey.user_id == user_id)
    return list(session.scalars(stmt.order_by(ApiKey.created_at)))


def revoke_api_key(session: Session, organization_id: uuid.UUID | None, key_ref: str) -> ApiKey:
    """Revoke by id or by visible prefix; refused at once on the next request."""
    stmt = select(ApiKey)
    if organization_id is not None:
        stmt = stmt.where(ApiKey.organization_id == organization_id)
    try:
        stmt = stmt.where(ApiKey.id == uuid.UUID(key_ref))
    except ValueError:
        stmt = stmt.where(ApiKey.prefix == key_ref)
    rows = list(session.scalars(stmt))
    if len(rows) != 1:
        raise NotFound("API key not found" if not rows else "Several keys match; use the id")
    row = rows[0]
    if row.revoked_at is None:
        row.revoked_at = _now()
        session.flush()
    return row


# --- sessions ---------------------------------------------------------------------------------


def create_session(session: Session, user_id: uuid.UUID, organization_id: uuid.UUID | None,
                   ttl: timedelta, user_agent: str | None = None,
                   ip_address: str | None = None) -> tuple[AuthSession, str]:
    """A bearer session for that user: (the row, the token, shown once)."""
    token = new_session_token()
    row = AuthSession(id=uuid.uuid4(), user_id=user_id, organization_id=organization_id,
                      token_hash=hash_secret(token), expires_at=_now() + ttl,
                      user_agent=user_agent, ip_address=ip_address)
    session.add(row)
    session.flush()
    return row, token
