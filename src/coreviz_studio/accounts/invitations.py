"""Joining an organization by invitation (better-auth's organization plugin): an admin invites
an email; the person signed in with that email accepts or rejects. Nothing is attached to
anyone until they accept, no user is ever created by an invitation, and inviting answers the
same whether or not the email has an account here (nothing leaks about people outside the
inviting organization).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from coreviz_studio.accounts.members import Member, check_role
from coreviz_studio.accounts.service import add_member, check_email
from coreviz_studio.auth.principal import Person, Principal, Role
from coreviz_studio.auth.service import same_email
from coreviz_studio.db.tables import AuthSession, Invitation, Membership, Organization, User
from coreviz_studio.errors import Conflict, NotFound
from coreviz_studio.ids import IdRef, parse_id

_CLOSED = {
    "accepted": "This invitation has already been accepted",
    "rejected": "This invitation has been rejected",
    "canceled": "This invitation was canceled by the organization",
}


def _now() -> datetime:
    return datetime.now(UTC)


def _for_email(email: str) -> ColumnElement[bool]:
    """SQL: the invitation is for `email`, ignoring case as same_email does."""
    return func.lower(Invitation.email) == func.lower(email.strip())


def _check_organization(principal: Principal, organization_id: IdRef | None) -> None:
    """better-auth clients may name the organization: it must be the caller's."""
    if organization_id is not None and (parse_id(organization_id, "organization")
                                        != principal.organization_id):
        raise NotFound("Organization not found")


def invite(session: Session, principal: Principal, email: str, role: str, ttl: timedelta,
           organization_id: str | None = None) -> Invitation:
    """Invite `email` to the caller's organization as `role`, or renew (new role, inviter and
    expiry) the pending invitation it already has there."""
    _check_organization(principal, organization_id)
    email = check_email(email)
    role = check_role(role)
    if role == Role.owner:
        principal.require(Role.owner)
    member = session.scalar(select(Membership.id).join(User, User.id == Membership.user_id)
                            .where(Membership.organization_id == principal.organization_id,
                                   same_email(email)))
    if member is not None:
        raise Conflict(f"{email} is already a member of this organization")
    pending = session.scalar(select(Invitation.role).where(
        Invitation.organization_id == principal.organization_id, Invitation.status == "pending",
        func.lower(Invitation.email) == func.lower(email)))
    if pending == Role.owner:  # an owner's invitation is changed only by an owner
        principal.require(Role.owner)
    values = {"organization_id": principal.organization_id, "email": email, "role": role,
              "inviter_id": principal.user_id, "expires_at": _now() + ttl}
    # One statement against the partial unique index: two admins inviting at once renew one row.
    stmt = (insert(Invitation).values(id=uuid.uuid4(), status="pending", **values)
            .on_conflict_do_update(
                index_elements=[Invitation.organization_id, func.lower(Invitation.email)],
                # A literal: as a bound parameter, a prepared (generic) plan no longer matches
                # the partial index, and PostgreSQL refuses the ON CONFLICT.
                index_where=text("status = 'pending'"),
                set_={k: v for k, v in values.items() if k != "organization_id"})
            .returning(Invitation))
    invitation = session.scalars(stmt, execution_options={"populate_existing": True}).one()
    session.flush()
    return invitation


def list_for_organization(session: Session, principal: Principal,
                          organization_id: IdRef | None = None) -> list[Invitation]:
    """Every invitation of the caller's organization, newest first, whatever its status (not
    for a key limited to some collections, as list-members)."""
    _check_organization(principal, organization_id)
    principal.require_whole_organization("listing the invitations")
    return list(session.scalars(select(Invitation).where(
        Invitation.organization_id == principal.organization_id)
        .order_by(Invitation.created_at.desc(), Invitation.id)))


def cancel(session: Session, principal: Principal, invitation_id: str) -> Invitation:
    """Withdraw a pending invitation of the caller's organization."""
    invitation = session.scalars(select(Invitation).where(
        Invitation.id == parse_id(invitation_id, "invitation"),
        Invitation.organization_id == principal.organization_id).with_for_update()).one_or_none()
    if invitation is None:
        raise NotFound("Invitation not found")
    if invitation.status != "pending":
        raise Conflict(_CLOSED[invitation.status])
    invitation.status = "canceled"
    session.flush()
    return invitation


# --- the invitee ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """An invitation as its invitee sees it: which organization, and who invited them."""

    invitation: Invitation
    organization: Organization
    inviter_email: str | None


def _theirs(session: Session, person: Person, invitation_id: IdRef,
            lock: bool = False) -> Invitation:
    """The invitation with that id sent to the person's email; anyone else's is not found."""
    stmt = select(Invitation).where(Invitation.id == parse_id(invitation_id, "invitation"),
                                    _for_email(person.email))
    invitation = session.scalars(stmt.with_for_update() if lock else stmt).one_or_none()
    if invitation is None:
        raise NotFound("Invitation not found")
    return invitation


def _open(invitation: Invitation) -> Invitation:
    if invitation.status != "pending":
        raise Conflict(_CLOSED[invitation.status], code="INVITATION_" + invitation.status.upper())
    if invitation.expires_at <= _now():
        raise Conflict("This invitation has expired; ask the organization for a new one",
                       code="INVITATION_EXPIRED")
    return invitation


def _received(session: Session, invitation: Invitation) -> Received:
    org = session.get(Organization, invitation.organization_id)
    if org is None:  # deleted meanwhile (the invitation goes with it)
        raise NotFound("Invitation not found")
    inviter = session.get(User, invitation.inviter_id)
    return Received(invitation, org, inviter.email if inviter else None)


def get_for_invitee(session: Session, person: Person, invitation_id: IdRef) -> Received:
    """One of the person's invitations (whatever its status, so a used link says so)."""
    return _received(session, _theirs(session, person, invitation_id))


def list_for_invitee(session: Session, person: Person) -> list[Received]:
    """The person's invitations that can still be accepted, newest first."""
    rows = session.scalars(select(Invitation).where(
        _for_email(person.email), Invitation.status == "pending",
        Invitation.expires_at > _now()).order_by(Invitation.created_at.desc(), Invitation.id))
    return [_received(session, r) for r in rows]


def accept(session: Session, person: Person, invitation_id: str) -> tuple[Invitation, Member]:
    """Join the inviting organization with the invited role; it becomes the person's active
    organization (they chose it) for this session and their next sign-in."""
    invitation = _open(_theirs(session, person, invitation_id, lock=True))
    org = session.get(Organization, invitation.organization_id)
    user = session.get(User, person.user_id)
    if org is None or user is None:
        raise NotFound("Invitation not found")
    membership = session.scalars(select(Membership).where(
        Membership.organization_id == org.id, Membership.user_id == user.id)).one_or_none()
    if membership is None:  # else: already joined another way; keep the role they have
        membership = add_member(session, org, user, invitation.role)
    invitation.status = "accepted"
    user.active_organization_id = org.id
    auth_session = session.get(AuthSession, person.session_id)
    if auth_session is not None:
        auth_session.organization_id = org.id
    session.flush()
    session.refresh(membership)
    return invitation, Member(membership, user)


def reject(session: Session, person: Person, invitation_id: str) -> Invitation:
    """Decline an invitation; the organization sees it as rejected."""
    invitation = _open(_theirs(session, person, invitation_id, lock=True))
    invitation.status = "rejected"
    session.flush()
    return invitation
