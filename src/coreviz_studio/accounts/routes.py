"""Who am I, and which organizations am I in."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter

from coreviz_studio.accounts import invitations, members, service
from coreviz_studio.accounts.schemas import (
    InvitationAnswer,
    InvitationIdBody,
    InvitationOut,
    InviteBody,
    MemberOut,
    MembersOut,
    MemberUser,
    MeOut,
    OrganizationOut,
    ReceivedInvitationOut,
    RemovedMember,
    RemoveMemberBody,
    SetActiveBody,
    UpdateRoleBody,
)
from coreviz_studio.deps import Admin, Config, Db, SignedIn, Viewer
from coreviz_studio.ids import Id

router = APIRouter(prefix="/api", tags=["identity"])


@router.get("/me", response_model=MeOut)
def get_me(db: Db, principal: Viewer) -> MeOut:
    me = service.me(db, principal)
    return MeOut(user_id=me.user.id, email=me.user.email, name=me.user.name,
                 organization_id=me.organization.id, organization_name=me.organization.name,
                 role=me.role)


@router.get("/auth/organization/list", response_model=list[OrganizationOut])
def list_organizations(db: Db, principal: Viewer) -> list[OrganizationOut]:
    return [OrganizationOut(id=org.id, name=org.name, slug=org.slug, role=role,
                            created_at=org.created_at)
            for org, role in service.organizations_of(db, principal.user_id)]


def _member(m: members.Member) -> MemberOut:
    return MemberOut(id=m.membership.id, organization_id=m.membership.organization_id,
                     user_id=m.user.id, role=m.membership.role,
                     created_at=m.membership.created_at,
                     user=MemberUser(id=m.user.id, email=m.user.email, name=m.user.name))


@router.post("/auth/organization/set-active", response_model=OrganizationOut)
def set_active(body: SetActiveBody, db: Db, principal: Viewer) -> OrganizationOut:
    """Switch the organization a signed-in session (and /api/me) acts for."""
    org = members.set_active(db, principal, body.organization_id)
    role = next(r for o, r in service.organizations_of(db, principal.user_id) if o.id == org.id)
    return OrganizationOut(id=org.id, name=org.name, slug=org.slug, role=role,
                           created_at=org.created_at)


@router.get("/auth/organization/list-members", response_model=MembersOut)
def list_members(db: Db, principal: Viewer) -> MembersOut:
    found = [_member(m) for m in members.list_members(db, principal)]
    return MembersOut(members=found, total=len(found))


@router.post("/auth/organization/update-member-role", response_model=MemberOut,
             responses={409: {"description": "The last owner"}})
def update_member_role(body: UpdateRoleBody, db: Db, principal: Admin) -> MemberOut:
    return _member(members.update_role(db, principal, body.member_id, body.role))


@router.post("/auth/organization/remove-member", response_model=RemovedMember,
             responses={404: {"description": "No such member"},
                        409: {"description": "The last owner"}})
def remove_member(body: RemoveMemberBody, db: Db, principal: Viewer) -> RemovedMember:
    """Answers `{member}`, as better-auth's organization plugin does."""
    return RemovedMember(member=_member(members.remove_member(db, principal,
                                                              body.member_id_or_email)))


# --- invitations (better-auth's organization plugin); an operator adds people directly with
# `coreviz-studio members add` ---------------------------------------------------------------


def _received(r: invitations.Received) -> ReceivedInvitationOut:
    return ReceivedInvitationOut(
        **InvitationOut.model_validate(r.invitation).model_dump(),
        organization_name=r.organization.name, organization_slug=r.organization.slug,
        inviter_email=r.inviter_email)


@router.post("/auth/organization/invite-member", response_model=InvitationOut,
             responses={409: {"description": "Already a member"}})
def invite_member(body: InviteBody, db: Db, principal: Admin, settings: Config) -> InvitationOut:
    """Invite an email (an owner invitation needs an owner). The answer is the same whether or
    not the email has an account here; nobody joins until they accept."""
    return InvitationOut.model_validate(invitations.invite(
        db, principal, body.email, body.role, timedelta(hours=settings.invitation_ttl_hours),
        body.organization_id))


@router.get("/auth/organization/list-invitations", response_model=list[InvitationOut])
def list_invitations(db: Db, principal: Viewer,
                     organizationId: Id | None = None) -> list[InvitationOut]:
    """The organization's invitations, any status (every member sees them, as in better-auth,
    like list-members)."""
    return [InvitationOut.model_validate(i)
            for i in invitations.list_for_organization(db, principal, organizationId)]


@router.post("/auth/organization/cancel-invitation", response_model=InvitationOut,
             responses={409: {"description": "The invitation is no longer pending"}})
def cancel_invitation(body: InvitationIdBody, db: Db, principal: Admin) -> InvitationOut:
    return InvitationOut.model_validate(invitations.cancel(db, principal, body.invitation_id))


@router.get("/auth/organization/get-invitation", response_model=ReceivedInvitationOut)
def get_invitation(id: Id, db: Db, person: SignedIn) -> ReceivedInvitationOut:
    """One invitation, for the signed-in person it was sent to (anyone else: 404)."""
    return _received(invitations.get_for_invitee(db, person, id))


@router.get("/auth/organization/list-user-invitations",
            response_model=list[ReceivedInvitationOut])
def list_user_invitations(db: Db, person: SignedIn) -> list[ReceivedInvitationOut]:
    """The signed-in person's invitations that can still be accepted."""
    return [_received(r) for r in invitations.list_for_invitee(db, person)]


@router.post("/auth/organization/accept-invitation", response_model=InvitationAnswer,
             responses={409: {"description": "The invitation is no longer pending"}})
def accept_invitation(body: InvitationIdBody, db: Db, person: SignedIn) -> InvitationAnswer:
    """Join with the invited role; that organization becomes the active one."""
    invitation, member = invitations.accept(db, person, body.invitation_id)
    return InvitationAnswer(invitation=InvitationOut.model_validate(invitation),
                            member=_member(member))


@router.post("/auth/organization/reject-invitation", response_model=InvitationAnswer,
             responses={409: {"description": "The invitation is no longer pending"}})
def reject_invitation(body: InvitationIdBody, db: Db, person: SignedIn) -> InvitationAnswer:
    invitation = invitations.reject(db, person, body.invitation_id)
    return InvitationAnswer(invitation=InvitationOut.model_validate(invitation), member=None)
