"""Ids on the wire are UUIDs, accepted with or without hyphens (ltree paths strip them)."""

from __future__ import annotations

import re
import uuid

from coreviz_studio.errors import BadRequest

_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                   r"[0-9a-fA-F]{12}$")


def parse_id(value: str, what: str) -> uuid.UUID:
    """`what` names the thing for the error message, e.g. "dataset"."""
    if not _UUID.match(value) or (value.count("-") not in (0, 4)):
        shown = value if len(value) <= 64 else value[:64] + "..."
        raise BadRequest(f"Invalid {what} id {shown!r}: expected a UUID (hyphens optional)")
    return uuid.UUID(value)
