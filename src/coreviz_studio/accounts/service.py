"""Users, organizations and memberships."""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from coreviz_studio.auth.principal import Principal
from coreviz_studio.auth.secrets import hash_password
from coreviz_studio.auth.service import create_api_key, same_email
from coreviz_studio.db.tables import ROLES, Membership, Organization, User
from coreviz_studio.errors import Conflict, Invalid, NotFound

# One definition for the check and the API's documentation (accounts/schemas.py): no spaces or
# control characters (C0, DEL, C1), one @, spaces around it trimmed.
EMAIL_PATTERN = r"[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f]+"
_EMAIL = re.compile(f"^{EMAIL_PATTERN}$")


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:48] or "org"


def _unique_slug(session: Session, name: str) -> str:
    base = slugify(name)
    taken = set(session.scalars(select(Organization.slug).where(
        Organization.slug.like(f"{base}%"))))
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    return slug


def get_or_create_organization(session: Session, name: str) -> tuple[Organization, bool]:
    """The organization with that exact name (the oldest, if several), or a new one."""
    name = name.strip()
    if not name:
        raise Invalid("An organization needs a name")
    try:
        return find_organization(session, name), False
    except NotFound:
        pass
    org = Organization(id=uuid.uuid4(), name=name, slug=_unique_slug(session, name))
    session.add(org)
    session.flush()
    return org, True


def find_organization(session: Session, name: str) -> Organization:
    org = session.scalars(select(Organization).where(Organization.name == name.strip())
                          .order_by(Organization.created_at).limit(1)).first()
    if org is None:
        raise NotFound(f"No organization named {name!r}")
    return org


def find_user(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(same_email(email))).one_or_none()


def check_email(email: str) -> str:
    """The email trimmed, or Invalid when it is not one."""
    email = email.strip()
    if not _EMAIL.match(email):
        raise Invalid(f"Not an email address: {email!r}")
    return email


def create_user(session: Session, email: str, name: str, password: str | None = None) -> User:
    email = check_email(email)
    if find_user(session, email) is not None:
        raise Conflict(f"A user with email {email} already exists")
    user = User(id=uuid.uuid4(), email=email, name=name.strip() or email,
                password_hash=hash_password(password) if password else None)
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, email: str, password: str) -> User:
    if len(password) < 8:
        raise Invalid("A password needs at least 8 characters")
    user = find_user(session, email)
    if user is None:
        raise NotFound(f"No user with email {email}")
    user.password_hash = hash_password(password)
    session.flush()
    return user


def add_member(session: Session, org: Organization, user: User, role: str) -> Membership:
    """Make `user` a member (the operator's doing, or the user's own): their active organization
    becomes this one only if they have none, so that sign-in never lands in an organization
    someone else chose for them."""
    if role not in ROLES:
        raise Invalid(f"Unknown role {role!r}; one of {', '.join(ROLES)}")
    existing = session.scalars(select(Membership).where(
        Membership.organization_id == org.id, Membership.user_id == user.id)).one_or_none()
    if existing is not None:
        return existing
    membership = Membership(id=uuid.uuid4(), organization_id=org.id, user_id=user.id, role=role)
    session.add(membership)
    if user.active_organization_id is None:
        user.active_organization_id = org.id
    session.flush()
    return membership


def has_users(session: Session) -> bool:
    return session.scalar(select(User.id).limit(1)) is not None


@dataclass(frozen=True)
class Me:
    user: User
    organization: Organization
    role: str


def me(session: Session, principal: Principal) -> Me:
    user = session.get(User, principal.user_id)
    org = session.get(Organization, principal.organization_id)
    if user is None or org is None:  # deleted while the credential was in flight
        raise NotFound("User not found")
    return Me(user, org, principal.role)


def organizations_of(session: Session, user_id: uuid.UUID) -> list[tuple[Organization, str]]:
    """A user's organizations with their role in each, oldest first."""
    rows = session.execute(
        select(Organization, Membership.role)
        .join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.user_id == user_id)
        .order_by(Organization.created_at, Organization.name)
    )
    return [(org, role) for org, role in rows]


@dataclass(frozen=True)
class NewUser:
    user: User
    organization: Organization
    role: str
    api_key: str
    password: str | None = None  # only when it was made here (the first start's owner)


def enroll(session: Session, email: str, name: str, org_name: str, password: str | None = None,
           role: str | None = None) -> NewUser:
    """Create a user in an organization (created, or joined if that name exists) with a first
    API key. The first member of a new organization is its owner; a joiner is a member."""
    org, created = get_or_create_organization(session, org_name)
    user = create_user(session, email, name, password)
    role = role or ("owner" if created else "member")
    add_member(session, org, user, role)
    _, key = create_api_key(session, user.id, org.id, name="first key")
    return NewUser(user, org, role, key)


FIRST_ADMIN_EMAIL = "admin@localhost"


def bootstrap(session: Session) -> NewUser | None:
    """On a server's first start (no users at all): an owner, an organization, an API key, and
    a password to sign in to the Studio with (both shown once: only their hashes are kept)."""
    if has_users(session):
        return None
    password = secrets.token_urlsafe(12)
    first = enroll(session, FIRST_ADMIN_EMAIL, "Admin", "Default", password=password,
                   role="owner")
    return replace(first, password=password)
