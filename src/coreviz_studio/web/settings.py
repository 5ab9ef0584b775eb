"""What the settings page shows: the API keys the visitor may see, the members and their roles,
the pending invitations, and which of these the visitor may change (the API's own rules:
admins manage keys, members and invitations; only an owner makes or unmakes an owner)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from coreviz_studio.accounts import invitations, members
from coreviz_studio.auth import keys
from coreviz_studio.auth.principal import Principal, Role
from coreviz_studio.datasets import service as datasets
from coreviz_studio.db.tables import ROLES

# What a new key's expiry can be (seconds; None: never), as the create form offers it.
EXPIRIES = [("never", None), ("7 days", 7 * 86400), ("30 days", 30 * 86400),
            ("90 days", 90 * 86400), ("1 year", 365 * 86400)]


def when(moment: datetime | None) -> str:
    """A moment as the page shows it: in UTC, to the minute."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class Key:
    id: str
    name: str
    start: str
    owner: str  # the email of the member it acts for
    read_only: bool
    collections: list[str] | None  # names; None: every collection
    created: datetime
    last_used: datetime | None
    expires: datetime | None
    revoked: datetime | None
    state: str  # active | expired | revoked


@dataclass(frozen=True)
class Person:
    id: str  # the membership's id
    email: str
    name: str
    role: str
    joined: datetime
    me: bool
    roles: list[str]  # the roles the visitor may give them; empty: none (no control)
    removable: bool


@dataclass(frozen=True)
class Pending:
    id: str
    email: str
    role: str
    expires: datetime
    expired: bool


@dataclass(frozen=True)
class View:
    role: str
    admin: bool
    keys: list[Key]
    people: list[Person]
    invitations: list[Pending]
    collections: list[tuple[str, str]]  # (id, name) for a key's scope
    invite_roles: list[str]
    expiries: list[tuple[str, int | None]]


def _state(row: object, now: datetime) -> str:
    if getattr(row, "revoked_at", None) is not None:
        return "revoked"
    expires = getattr(row, "expires_at", None)
    return "expired" if expires is not None and expires <= now else "active"


def view(session: Session, principal: Principal) -> View:
    now = datetime.now(UTC)
    admin = principal.allows(Role.admin)
    owner = principal.allows(Role.owner)
    found = members.list_members(session, principal)
    emails = {m.user.id: m.user.email for m in found}
    names = {d.id: d.name for d in datasets.list_datasets(session, principal,
                                                          str(principal.organization_id))}
    shown_keys = []
    for row in keys.list_keys(session, principal):
        ids = row.dataset_ids
        shown_keys.append(Key(
            str(row.id), row.name or "", row.prefix, emails.get(row.user_id, "a former member"),
            row.read_only,
            None if ids is None else [names.get(i, "a deleted collection") for i in ids],
            row.created_at, row.last_used_at, row.expires_at, row.revoked_at,
            _state(row, now)))
    people = []
    for m in found:
        role, me = m.membership.role, m.user.id == principal.user_id
        # Changing an owner, or making one, needs an owner. The last owner's controls stay:
        # the API refuses and the page shows its reason.
        may_change = admin and (owner or role != "owner")
        roles = [r for r in ROLES if owner or r != "owner"] if may_change else []
        removable = me or may_change
        people.append(Person(str(m.membership.id), m.user.email, m.user.name, role,
                             m.membership.created_at, me, roles, removable))
    pending = [Pending(str(i.id), i.email, i.role, i.expires_at, i.expires_at <= now)
               for i in invitations.list_for_organization(session, principal)
               if i.status == "pending"]
    return View(principal.role.value, admin, shown_keys, people, pending,
                [(str(k), v) for k, v in names.items()],
                [r for r in ROLES if owner or r != "owner"], EXPIRIES)
