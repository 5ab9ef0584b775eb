"""The caller of a request, as every service sees it, and the roles a route can require."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from coreviz_studio.errors import Forbidden


class Role(StrEnum):
    """A member's role, lowest first; each one can do everything the ones before it can."""

    viewer = "viewer"
    member = "member"
    admin = "admin"
    owner = "owner"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)


_ORDER = list(Role)


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    organization_id: uuid.UUID
    role: Role
    method: str  # "api_key" | "session"
    credential_id: uuid.UUID
    # A scoped API key: read-only, and/or limited to some collections (None: all of them).
    read_only: bool = False
    dataset_ids: frozenset[uuid.UUID] | None = None

    def allows(self, role: Role) -> bool:
        """Whether this caller may do what needs `role` (a read-only key only reads; a key
        limited to some collections never manages the organization: members, invitations,
        keys)."""
        if self.read_only and role is not Role.viewer:
            return False
        if self.dataset_ids is not None and role.rank >= Role.admin.rank:
            return False
        return Role(self.role).rank >= role.rank

    def require(self, role: Role) -> None:
        """Refuse (403) a caller whose role ranks below `role`. Routes declare their need
        (deps.requires); services call this only where the need depends on the data (making
        an owner needs an owner)."""
        if self.allows(role):
            return
        if Role(self.role).rank >= role.rank:  # the role would do: the key's scope refuses
            if self.read_only:
                raise Forbidden("This API key is read-only")
            raise Forbidden("This API key is limited to some collections; managing the "
                            "organization (members, invitations, keys) needs a key for all of it")
        raise Forbidden(f"This needs the {role} role; you are a {self.role}")

    def require_unscoped(self, doing: str) -> None:
        """Refuse (403) a scoped key something any role may do but that would escape or change
        its limits (leaving the organization, approving a device login: its session would
        have no scope)."""
        if self.read_only:
            raise Forbidden(f"This API key is read-only; {doing} needs a key without limits "
                            "or a signed-in session")
        self.require_whole_organization(doing)

    def require_whole_organization(self, doing: str) -> None:
        """Refuse (403) a key limited to some collections `doing` something that reaches beyond
        them (creating a collection)."""
        if self.dataset_ids is not None:
            raise Forbidden(f"This API key is limited to some collections; {doing} needs a key "
                            "for the whole organization")


@dataclass(frozen=True)
class Person:
    """A user signed in with a session (never an API key, which acts for one organization), in
    some organization or in none yet: the one who answers an invitation sent to their email."""

    user_id: uuid.UUID
    email: str
    session_id: uuid.UUID
    organization_id: uuid.UUID | None
