"""API keys over HTTP (better-auth's api-key plugin paths): admins manage the organization's
keys; everyone sees their own. The secret is shown once, at creation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from coreviz_studio.auth import service
from coreviz_studio.auth.principal import Principal
from coreviz_studio.auth.secrets import API_KEY_PREFIX
from coreviz_studio.db.tables import ApiKey
from coreviz_studio.ids import parse_id


def describe(row: ApiKey) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"id": row.id, "name": row.name, "start": row.prefix, "prefix": API_KEY_PREFIX,
            "user_id": row.user_id, "organization_id": row.organization_id,
            "enabled": row.revoked_at is None and (row.expires_at is None or row.expires_at > now),
            "created_at": row.created_at, "expires_at": row.expires_at,
            "last_used_at": row.last_used_at, "revoked_at": row.revoked_at}


def create(session: Session, principal: Principal, name: str,
           expires_in: int | None) -> tuple[ApiKey, str]:
    expires_at = datetime.now(UTC) + timedelta(seconds=expires_in) if expires_in else None
    row, secret = service.create_api_key(session, principal.user_id, principal.organization_id,
                                         name=name, expires_at=expires_at)
    session.refresh(row)
    return row, secret


def list_keys(session: Session, principal: Principal) -> list[ApiKey]:
    mine_only = principal.role not in ("admin", "owner")
    return service.list_api_keys(session, principal.organization_id,
                                 principal.user_id if mine_only else None)


def revoke(session: Session, principal: Principal, key_id: str) -> ApiKey:
    return service.revoke_api_key(session, principal.organization_id,
                                  str(parse_id(key_id, "key")))


