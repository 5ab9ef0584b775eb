"""Wire shapes of identity answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StrictBool

from coreviz_studio import ids
from coreviz_studio.accounts.service import EMAIL_PATTERN
from coreviz_studio.schemas import InputModel, WireModel


class MeOut(WireModel):
    user_id: uuid.UUID
    email: str
    name: str
    organization_id: uuid.UUID
    organization_name: str
    role: str


class OrganizationOut(WireModel):
    id: uuid.UUID
    name: str
    slug: str
    role: str
    created_at: datetime


class MemberUser(WireModel):
    id: uuid.UUID
    email: str
    name: str


class MemberOut(WireModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    user_id: uuid.UUID
    role: str
    created_at: datetime
    user: MemberUser


class RemovedMember(WireModel):
    member: MemberOut


class MembersOut(WireModel):
    members: list[MemberOut]
    total: int


# Documented (json_schema_extra) as the service checks them, which keeps its messages.
Role = Annotated[str, Field(min_length=1, max_length=16,
                            json_schema_extra={"enum": ["owner", "admin", "member", "viewer"]})]
_EMAIL = EMAIL_PATTERN
_SPACE = r"\s*"
Email = Annotated[str, Field(min_length=3, max_length=320,
                             json_schema_extra={"pattern": rf"^{_SPACE}{_EMAIL}{_SPACE}$"})]
MemberRef = Annotated[str, Field(min_length=1, max_length=320, json_schema_extra={
    "pattern": rf"^{_SPACE}(?:{ids.PATTERN[1:-1]}|{_EMAIL}){_SPACE}$",
    "description": "A membership id, a user id, or an email"})]


class InviteBody(InputModel):
    """better-auth's invite-member body (a self-hosted server sends no mail: the invitee sees
    the invitation once signed in). `resend` is accepted; inviting again always renews."""

    email: Email
    role: Role = "member"
    organization_id: ids.BodyId | None = None
    resend: StrictBool | None = None


class InvitationIdBody(InputModel):
    invitation_id: ids.BodyId


class InvitationOut(WireModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    email: str
    role: str
    status: str  # pending | accepted | rejected | canceled
    inviter_id: uuid.UUID
    expires_at: datetime
    created_at: datetime


class ReceivedInvitationOut(InvitationOut):
    """What the invitee sees (get-invitation, list-user-invitations): who invites them where."""

    organization_name: str
    organization_slug: str
    inviter_email: str | None


class InvitationAnswer(WireModel):
    """accept-invitation's `{invitation, member}`; reject-invitation's has `member: null`."""

    invitation: InvitationOut
    member: MemberOut | None


class RemoveMemberBody(InputModel):
    member_id_or_email: MemberRef


class UpdateRoleBody(InputModel):
    member_id: MemberRef
    role: Role


class SetActiveBody(InputModel):
    organization_id: ids.BodyId
