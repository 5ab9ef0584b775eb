"""Members of an organization and their roles (owner > admin > member > viewer).

Only admins manage members; only an owner can make or unmake an owner; an organization always
keeps at least one owner. A removed member's keys and sessions stop working at once (every
request looks the membership up).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coreviz_studio.accounts.service import add_member as join
from coreviz_studio.accounts.service import find_user
from coreviz_studio.auth.principal import Principal, Role
from coreviz_studio.auth.service import same_email
from coreviz_studio.db.tables import ROLES, AuthSession, Membership, Organization, User
from coreviz_studio.errors import Conflict, Forbidden, Invalid, NotFound
from coreviz_studio.ids import parse_id


@dataclass(frozen=True)
class Member:
    membership: Membership
    user: User


def check_role(role: str) -> str:
    """The role, or Invalid when it is not one of ROLES."""
    if role not in ROLES:
        raise Invalid(f"Unknown role {role!r}; one of {', '.join(ROLES)}")
    return role


def list_members(session: Session, principal: Principal) -> list[Member]:
    """The organization's people: not for a key limited to some collections (least privilege:
    a key handed out for one collection does not show who works here)."""
    principal.require_whole_organization("listing the members")
    rows = session.execute(
        select(Membership, User).join(User, User.id == Membership.user_id)
        .where(Membership.organization_id == principal.organization_id)
        .order_by(Membership.created_at, User.email))
    return [Member(m, u) for m, u in rows]


def _owners(session: Session, org_id: uuid.UUID) -> int:
    return session.scalar(select(func.count()).select_from(Membership).where(
        Membership.organization_id == org_id, Membership.role == "owner")) or 0


def _get(session: Session, principal: Principal, ref: str) -> Member:
    """A member of the caller's organization by membership id, user id or email."""
    stmt = (select(Membership, User).join(User, User.id == Membership.user_id)
            .where(Membership.organization_id == principal.organization_id))
    if "@" in ref:
        stmt = stmt.where(same_email(ref))
    else:
        ident = parse_id(ref, "member")
        stmt = stmt.where((Membership.id == ident) | (Membership.user_id == ident))
    row = session.execute(stmt.with_for_update(of=Membership)).first()
    if row is None:
        raise NotFound("Member not found")
    return Member(row[0], row[1])


def add_member(session: Session, organization_id: uuid.UUID, email: str,
               role: str = "member") -> Member:
    """The operator's direct add (the command line's `members add`): an existing user joins at
    once. Over HTTP nobody is added without consent: people join by accepting an invitation."""
    role = check_role(role)
    user = find_user(session, email)
    if user is None:
        raise NotFound(f"No user with email {email}; create the account with `coreviz-studio "
                       "users create`, or invite them")
    org = session.get(Organization, organization_id)
    if org is None:
        raise NotFound("Organization not found")
    existing = session.scalars(select(Membership).where(
        Membership.organization_id == organization_id,
        Membership.user_id == user.id)).one_or_none()
    if existing is not None:
        raise Conflict(f"{user.email} is already a member")
    membership = join(session, org, user, role)
    session.refresh(membership)
    return Member(membership, user)


def update_role(session: Session, principal: Principal, member_ref: str, role: str) -> Member:
    role = check_role(role)
    member = _get(session, principal, member_ref)
    if "owner" in (role, member.membership.role):
        principal.require(Role.owner)
    if (member.membership.role == "owner" and role != "owner"
            and _owners(session, principal.organization_id) <= 1):
        raise Conflict("An organization needs at least one owner; make someone else owner first")
    member.membership.role = role
    session.flush()
    return member


def remove_member(session: Session, principal: Principal, member_ref: str) -> Member:
    """Remove a member (anyone may also remove themselves: leaving)."""
    member = _get(session, principal, member_ref)
    if member.user.id == principal.user_id:
        principal.require_unscoped("leaving the organization")
    else:
        principal.require(Role.admin)
        if member.membership.role == "owner":
            principal.require(Role.owner)
    if member.membership.role == "owner" and _owners(session, principal.organization_id) <= 1:
        raise Conflict("An organization needs at least one owner; make someone else owner first")
    session.delete(member.membership)
    user = member.user
    if user.active_organization_id == principal.organization_id:
        user.active_organization_id = None
    session.flush()
    return member


def set_active(session: Session, principal: Principal, organization_id: str) -> Organization:
    """Switch the organization a signed-in session acts for (and /api/me answers for)."""
    org_id = parse_id(organization_id, "organization")
    role = session.scalar(select(Membership.role).where(
        Membership.user_id == principal.user_id, Membership.organization_id == org_id))
    org = session.get(Organization, org_id) if role else None
    if org is None:
        raise NotFound("Organization not found")
    if principal.method != "session":
        raise Forbidden("An API key belongs to one organization; use a key of the other "
                         "organization, or sign in to switch")
    auth_session = session.get(AuthSession, principal.credential_id)
    if auth_session is not None:
        auth_session.organization_id = org_id
    user = session.get(User, principal.user_id)
    if user is not None:
        user.active_organization_id = org_id
    session.flush()
    return org
