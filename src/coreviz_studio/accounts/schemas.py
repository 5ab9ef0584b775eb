"""Wire shapes of identity answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

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


Role = Annotated[str, Field(min_length=1, max_length=16)]


class InviteBody(InputModel):
    """better-auth's invite-member body (a self-hosted server sends no mail: the invitee sees
    the invitation once signed in). `resend` is accepted; inviting again always renews."""

    email: Annotated[str, Field(min_length=3, max_length=320)]
    role: Role = "member"
    organization_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    resend: bool | None = None


class InvitationIdBody(InputModel):
    invitation_id: Annotated[str, Field(min_length=1, max_length=64)]


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
    member_id_or_email: Annotated[str, Field(min_length=1, max_length=320)]


class UpdateRoleBody(InputModel):
    member_id: Annotated[str, Field(min_length=1, max_length=320)]
    role: Role


class SetActiveBody(InputModel):
    organization_id: Annotated[str, Field(min_length=1, max_length=64)]
