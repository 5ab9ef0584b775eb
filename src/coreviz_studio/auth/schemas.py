"""Wire shapes of sign-in, sessions, device login and API keys (better-auth's shapes)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StrictBool

from coreviz_studio import ids
from coreviz_studio.schemas import InputModel, WireModel

# Bodies are stripped of surrounding spaces before their length is checked: say so (at least one
# non-space character), or "\t" looks valid and is refused.
_VISIBLE = {"pattern": r"\S"}
Short = Annotated[str, Field(min_length=1, max_length=200, json_schema_extra=_VISIBLE)]


class SignInBody(InputModel):
    email: Annotated[str, Field(min_length=3, max_length=320)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]
    remember_me: bool | None = None
    callback_url: str | None = Field(None, alias="callbackURL")


class UserOut(WireModel):
    id: uuid.UUID
    email: str
    name: str
    email_verified: bool
    image: str | None = None
    created_at: datetime
    updated_at: datetime


class SignInOut(WireModel):
    redirect: bool = False
    token: str
    url: str | None = None
    user: UserOut


class SessionOut(WireModel):
    id: uuid.UUID
    user_id: uuid.UUID
    expires_at: datetime | None
    created_at: datetime
    active_organization_id: uuid.UUID | None
    # How the caller authenticated: "session" (a token) or "api_key".
    kind: str


class GetSessionOut(WireModel):
    session: SessionOut
    user: UserOut


class Success(WireModel):
    success: bool = True


# Device login bodies use the RFC's snake_case names, as better-auth's client sends them.
class DeviceCodeBody(InputModel):
    client_id: Short = Field(alias="client_id")
    scope: Annotated[str, Field(max_length=1000)] | None = Field(None, alias="scope")


class DeviceTokenBody(InputModel):
    grant_type: Short = Field(alias="grant_type")
    device_code: Short = Field(alias="device_code")
    client_id: Short = Field(alias="client_id")


class DeviceDecisionBody(InputModel):
    user_code: Annotated[str, Field(min_length=1, max_length=32, json_schema_extra=_VISIBLE)]


class DeviceCodeStatus(WireModel):
    user_code: str = Field(serialization_alias="user_code")
    status: str
    client_id: str = Field(serialization_alias="client_id")
    scope: str | None
    expires_at: datetime


class ApiKeyCreateBody(InputModel):
    name: Annotated[str, Field(max_length=200)] | None = None
    # Seconds until the key expires; none: it never does.
    expires_in: Annotated[int, Field(ge=60, le=10 * 365 * 24 * 3600)] | None = None
    # The key's scope (our fields; better-auth's `permissions` is server-only there): it only
    # reads, and/or it sees only these collections (dataset ids). Absent: all its user can do.
    read_only: StrictBool = False
    collections: Annotated[list[ids.BodyId], Field(min_length=1, max_length=1000)] | None = None


class ApiKeyDeleteBody(InputModel):
    key_id: ids.BodyId


class ApiKeyOut(WireModel):
    id: uuid.UUID
    name: str
    start: str  # the first characters, to recognise a key; never the secret
    prefix: str
    user_id: uuid.UUID
    organization_id: uuid.UUID
    enabled: bool
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    read_only: bool
    collections: list[uuid.UUID] | None  # None: every collection of the organization


class ApiKeyCreated(ApiKeyOut):
    key: str  # shown once
