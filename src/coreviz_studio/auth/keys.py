"""API keys over HTTP (better-auth's api-key plugin paths): admins manage the organization's
keys; everyone sees their own. The secret is shown once, at creation.

A key may be scoped: `readOnly` (it only reads) and/or `collections` (it sees only those
collections; None: all of them, which is what a key without a scope means, so the official SDK
works unchanged). A new key is never broader than the credential creating it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from coreviz_studio.auth import service
from coreviz_studio.auth.principal import Principal, Role
from coreviz_studio.auth.secrets import API_KEY_PREFIX
from coreviz_studio.db.tables import ApiKey, Dataset, Membership
from coreviz_studio.errors import Forbidden, NotFound
from coreviz_studio.ids import parse_id
from coreviz_studio.tenancy import get_owned


def describe(row: ApiKey) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"id": row.id, "name": row.name, "start": row.prefix, "prefix": API_KEY_PREFIX,
            "user_id": row.user_id, "organization_id": row.organization_id,
            "enabled": row.revoked_at is None and (row.expires_at is None or row.expires_at > now),
            "created_at": row.created_at, "expires_at": row.expires_at,
            "last_used_at": row.last_used_at, "revoked_at": row.revoked_at,
            "read_only": row.read_only,
            "collections": None if row.dataset_ids is None else list(row.dataset_ids)}


def check_scope(session: Session, principal: Principal, read_only: bool,
                collections: Sequence[str] | None) -> tuple[bool, list[uuid.UUID] | None]:
    """The scope of a key `principal` creates: (read_only, dataset ids or None for all).

    Each collection must be one the creator sees (another organization's, or one outside the
    creator's own scope, is not found); a scoped creator cannot drop its limits."""
    if principal.read_only and not read_only:
        raise Forbidden("A read-only key can only create read-only keys")
    if collections is None:
        if principal.dataset_ids is not None:
            raise Forbidden("This API key is limited to some collections; a key it creates "
                            "must name collections within them")
        return read_only, None
    ids: list[uuid.UUID] = []
    for ref in collections:
        ident = parse_id(ref, "collection")
        dataset = get_owned(session, Dataset, ident, principal, "Dataset not found")
        if dataset.status != "active":
            raise NotFound("Dataset not found")
        if ident not in ids:
            ids.append(ident)
    return read_only, ids


def create(session: Session, principal: Principal, name: str, expires_in: int | None,
           read_only: bool = False,
           collections: Sequence[str] | None = None) -> tuple[ApiKey, str]:
    expires_at = datetime.now(UTC) + timedelta(seconds=expires_in) if expires_in else None
    read_only, dataset_ids = check_scope(session, principal, read_only, collections)
    row, secret = service.create_api_key(session, principal.user_id, principal.organization_id,
                                         name=name, expires_at=expires_at, read_only=read_only,
                                         dataset_ids=dataset_ids)
    session.refresh(row)
    return row, secret


def list_keys(session: Session, principal: Principal) -> list[ApiKey]:
    mine_only = not principal.allows(Role.admin)
    return service.list_api_keys(session, principal.organization_id,
                                 principal.user_id if mine_only else None)


def operator_principal(session: Session, user_id: uuid.UUID,
                       organization_id: uuid.UUID) -> Principal:
    """That member as the operator acts for them on the command line (an unscoped caller)."""
    role = service.member_role(session, user_id, organization_id)
    if role is None:
        raise NotFound("User is not a member of that organization")
    return Principal(user_id, organization_id, Role(role), "operator", user_id)


def revoke(session: Session, principal: Principal, key_id: str) -> ApiKey:
    """Admins revoke the organization's keys; an owner's key only its owner or another owner
    (as roles: an admin cannot cut an owner's automation off)."""
    ident = parse_id(key_id, "key")
    owner_of = session.scalar(
        select(Membership.role).join(ApiKey, (ApiKey.user_id == Membership.user_id)
                                     & (ApiKey.organization_id == Membership.organization_id))
        .where(ApiKey.id == ident, ApiKey.organization_id == principal.organization_id))
    if owner_of == Role.owner and principal.role != Role.owner:
        raise Forbidden("This key belongs to an owner: only an owner can revoke it")
    return service.revoke_api_key(session, principal.organization_id, str(ident))
