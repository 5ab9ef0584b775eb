"""Who am I, and which organizations am I in."""

from __future__ import annotations

from fastapi import APIRouter

from coreviz_studio.accounts import members, service
from coreviz_studio.accounts.schemas import (
    AddMemberBody,
    MemberOut,
    MembersOut,
    MemberUser,
    MeOut,
    OrganizationOut,
    RemovedMember,
    RemoveMemberBody,
    SetActiveBody,
    UpdateRoleBody,
)
from coreviz_studio.deps import Admin, Db, Viewer

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


@router.post("/auth/organization/invite-member", response_model=MemberOut,
             responses={409: {"description": "Already a member"}})
@router.post("/auth/organization/add-member", response_model=MemberOut,
             responses={409: {"description": "Already a member"}})
def add_member(body: AddMemberBody, db: Db, principal: Admin) -> MemberOut:
    """Add a person by email, at once (invite-member does the same: a self-hosted server sends
    no mail). An unknown email gets an account without a password; set one with
    `coreviz-studio users set-password`."""
    return _member(members.add_member(db, principal, body.email, body.role, body.name))


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
