"""Ids on the wire are UUIDs, accepted with or without hyphens (ltree paths strip them)."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from coreviz_studio.errors import BadRequest

_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                   r"[0-9a-fA-F]{12}$")
# The same, for documentation (a JSON schema pattern): 32 hex digits, or hyphenated 8-4-4-4-12.
PATTERN = (r"^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
           r"[0-9a-fA-F]{12})$")
_EXPECTED = "expected a UUID (hyphens optional)"

# What services take: a UUID already checked at the edge (a path id), or a string to parse.
IdRef = str | uuid.UUID


def _well_formed(value: str) -> bool:
    return bool(_UUID.match(value)) and value.count("-") in (0, 4)


def _shown(value: str) -> str:
    return value if len(value) <= 64 else value[:64] + "..."


def parse_id(value: IdRef, what: str) -> uuid.UUID:
    """`what` names the thing for the error message, e.g. "dataset"."""
    if isinstance(value, uuid.UUID):
        return value
    if not _well_formed(value):
        raise BadRequest(f"Invalid {what} id {_shown(value)!r}: {_EXPECTED}")
    return uuid.UUID(value)


def _checked(value: Any) -> Any:
    # pydantic's UUID alone also takes braces and "urn:uuid:"; the wire takes only these two.
    if isinstance(value, str) and not _well_formed(value):
        raise ValueError(f"{_EXPECTED}, not {_shown(value)!r}")
    return value


# An id in a body: a string the service parses (keeping its message), documented as a UUID.
BodyId = Annotated[str, Field(min_length=1, max_length=64, json_schema_extra={
    "pattern": rf"^\s*{PATTERN[1:-1]}\s*$"})]

# A path or query id: documented as `format: uuid`; a malformed one is a 400 that says so.
Id = Annotated[uuid.UUID, BeforeValidator(_checked),
               Field(description="A UUID, with or without hyphens")]
