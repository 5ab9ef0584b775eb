"""Who is looking at a Studio page: a member of an organization, a person signed in who belongs
to none yet (an invitee), or nobody. Pages read the session cookie the API's sign-in sets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from coreviz_studio.accounts import service as accounts
from coreviz_studio.auth import service as auth
from coreviz_studio.auth.principal import Person, Principal, Role
from coreviz_studio.deps import Credential, Db, optional_principal
from coreviz_studio.errors import AppError


@dataclass(frozen=True)
class Organization:
    id: str
    name: str
    role: str


@dataclass(frozen=True)
class Visitor:
    """A signed-in person; `principal` is None when they belong to no organization yet."""

    person: Person
    principal: Principal | None
    organizations: list[Organization]

    @property
    def email(self) -> str:
        return self.person.email

    @property
    def active(self) -> Organization | None:
        if self.principal is None:
            return None
        wanted = str(self.principal.organization_id)
        return next((o for o in self.organizations if o.id == wanted), None)

    @property
    def can_edit(self) -> bool:
        return self.principal is not None and self.principal.role.rank >= Role.member.rank

    @property
    def is_admin(self) -> bool:
        return self.principal is not None and self.principal.role.rank >= Role.admin.rank


def visitor(db: Db, credential: Credential) -> Visitor | None:
    """The visitor, or None when nobody (or an API key, which is no person) is signed in."""
    try:
        person = auth.authenticate_person(db, *credential)
    except AppError:  # no session, an expired one, or an API key (403): sign in
        return None
    orgs = [Organization(str(org.id), org.name, role)
            for org, role in accounts.organizations_of(db, person.user_id)]
    # Last: it scopes the session to the active organization (row-level security), and None
    # means signed in but in no organization (yet).
    principal = optional_principal(db, credential)
    return Visitor(person, principal, orgs)


OptionalVisitor = Annotated[Visitor | None, Depends(visitor)]
