"""Wire shapes of identity answers."""

from __future__ import annotations

import uuid
from datetime import datetime

from coreviz_studio.schemas import WireModel


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
