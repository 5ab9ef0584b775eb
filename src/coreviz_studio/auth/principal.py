"""The caller of a request, as every service sees it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from coreviz_studio.errors import Forbidden

_RANK = {"viewer": 0, "member": 1, "admin": 2, "owner": 3}


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    organization_id: uuid.UUID
    role: str
    method: str  # "api_key" | "session"
    credential_id: uuid.UUID

    def require(self, role: str) -> None:
        """Refuse (403) a caller whose role ranks below `role`."""
        if _RANK[self.role] < _RANK[role]:
            raise Forbidden(f"This needs the {role} role; you are a {self.role}")
