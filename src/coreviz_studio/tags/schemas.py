"""Wire shapes of tag operations."""

from __future__ import annotations

import uuid
from typing import Annotated

from coreviz_studio.schemas import CleanName, InputModel, WireModel

Text = Annotated[str, CleanName(1000, "A tag label or value")]


class TagAdd(InputModel):
    label: Text
    value: Text


class TagRemove(InputModel):
    label: Text
    value: Text | None = None  # without a value the whole group goes


class TagRename(InputModel):
    old_label: Text
    new_label: Text


class MediaTags(WireModel):
    media_id: uuid.UUID
    tags: dict[str, list[str]]


class CollectionTags(WireModel):
    tags: dict[str, list[str]]
