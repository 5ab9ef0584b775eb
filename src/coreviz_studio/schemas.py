"""The base of every wire model: camelCase on the wire, unknown input fields refused."""

from __future__ import annotations

import unicodedata
from typing import Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator
from pydantic.alias_generators import to_camel


class WireModel(BaseModel):
    """Output: camelCase aliases."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True,
                              from_attributes=True)


def has_nul(value: Any, depth: int = 0) -> bool:
    """Whether a JSON value holds a NUL character anywhere (PostgreSQL text cannot)."""
    if isinstance(value, str):
        return "\x00" in value
    if depth > 64:
        return False
    if isinstance(value, dict):
        return any(has_nul(k, depth + 1) or has_nul(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v, depth + 1) for v in value)
    return False


# Bidirectional overrides and isolates: they make a name display as something else.
_BIDI = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def clean_text(value: str) -> str:
    """A name as people will see it: without control characters (C0, C1, DEL) or bidi
    overrides, trimmed. Joiners stay, so emoji sequences survive."""
    kept = "".join(c for c in value if unicodedata.category(c) != "Cc")
    return kept.translate(_BIDI).strip()


def _clean(value: Any) -> Any:
    return clean_text(value) if isinstance(value, str) else value


# For names: cleaned before the length is checked, so a name of control characters is empty.
Clean = BeforeValidator(_clean)


def _refuse_null(value: Any) -> Any:
    if value is None:
        raise ValueError("cannot be null; leave the field out to keep the current value")
    return value


# For PATCH bodies: a field that may be left out, but not set to null (names, for example).
NotNull = BeforeValidator(_refuse_null)


class InputModel(WireModel):
    """Input: camelCase, and an unknown field is a 422, not silently dropped."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid",
                              str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        if has_nul(data):
            raise ValueError("text cannot contain NUL (\\u0000) characters")
        return data
