"""The base of every wire model: camelCase on the wire, unknown input fields refused."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import CoreSchema, core_schema


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


# What clean_text drops anywhere (NUL aside: InputModel refuses it), and what it trims.
_DROPPED = r"\x01-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_KEPT = rf"[^\x00{_DROPPED}]"


def name_pattern(max_length: int) -> str:
    """The names `Name(max_length)` accepts, as a regex for the API's documentation: a visible
    character, then at most max_length - 1 kept ones, dropped characters anywhere, spaces
    around."""
    return (rf"^[{_DROPPED}\s]*[^\x00{_DROPPED}\s](?:[{_DROPPED}]*{_KEPT}){{0,{max_length - 1}}}"
            rf"[{_DROPPED}\s]*$")


@dataclass(frozen=True)
class CleanName:
    """`Annotated[str, CleanName(200)]`: a name cleaned (clean_text) before its length is
    checked, so one of only control or bidi characters is empty, so refused, and the limit
    counts what people will see. Documented by name_pattern."""

    max_length: int
    what: str = "A name"

    def clean(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        kept = clean_text(value)
        if not kept:
            raise ValueError("must have a visible character (control and bidi characters "
                             "are removed)")
        if len(kept) > self.max_length:
            raise ValueError(f"must be at most {self.max_length} characters once control and "
                             f"bidi characters are removed (this one has {len(kept)})")
        return kept

    def __get_pydantic_core_schema__(self, source: Any,
                                     handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_before_validator_function(self.clean, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema,
                                     handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return {"type": "string", "pattern": name_pattern(self.max_length),
                "description": f"{self.what}: 1 to {self.max_length} characters once control "
                               "and bidi characters are removed and the ends trimmed"}


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
