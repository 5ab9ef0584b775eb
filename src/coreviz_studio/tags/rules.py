"""What a tag is: `metadata.tags` maps a group label to a list of distinct string values."""

from __future__ import annotations

from typing import Any

from coreviz_studio.errors import Invalid

MAX_LABEL = 100
MAX_VALUE = 256
MAX_GROUPS = 200
MAX_VALUES = 1000


def check_label(label: str) -> str:
    label = label.strip()
    if not label or len(label) > MAX_LABEL:
        raise Invalid(f"A tag label must be 1 to {MAX_LABEL} characters")
    return label


def check_value(value: str) -> str:
    value = value.strip()
    if not value or len(value) > MAX_VALUE:
        raise Invalid(f"A tag value must be 1 to {MAX_VALUE} characters")
    return value


def check_tags(tags: Any) -> None:
    """A whole `tags` object, as PATCH metadata may carry one."""
    if not isinstance(tags, dict):
        raise Invalid("metadata.tags must be an object of {label: [values]}")
    if len(tags) > MAX_GROUPS:
        raise Invalid(f"At most {MAX_GROUPS} tag groups per item")
    for label, values in tags.items():
        check_label(label)
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise Invalid(f"metadata.tags.{label} must be a list of strings")
        if len(values) > MAX_VALUES:
            raise Invalid(f"At most {MAX_VALUES} values per tag group")
        for value in values:
            check_value(value)
