"""Wire shapes of media, frames, captions and objects (seed-listing-media.txt), and the bodies
the media endpoints accept."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer
from pydantic.json_schema import SkipJsonSchema

from coreviz_studio.media import paths
from coreviz_studio.schemas import CleanName, InputModel, NotNull, WireModel

ItemName = Annotated[str, CleanName(1024, "The item's name")]


class CaptionOut(WireModel):
    id: uuid.UUID
    text: str
    frame_id: uuid.UUID
    model: str
    status: str
    metadata: dict[str, Any]
    created_by_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class BBox(WireModel):
    x: float
    y: float
    width: float
    height: float


class ObjectOut(WireModel):
    id: uuid.UUID
    type: str
    label: str
    confidence: float | None
    bbox: BBox
    model: str
    frame_id: uuid.UUID
    media_id: uuid.UUID
    cluster_id: uuid.UUID | None
    metadata: dict[str, Any]
    created_at: datetime


class FrameOut(WireModel):
    id: uuid.UUID
    # Seconds as a string, as the seed shows ("0" for an image).
    timestamp: str
    end_timestamp: str | None
    blob: str | None
    thumbnail_blob: str | None
    width: int | None
    height: int | None
    page_number: int | None
    text: str | None
    status: str
    metadata: dict[str, Any]
    media_id: uuid.UUID
    created_by_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    captions: list[CaptionOut]
    objects: list[ObjectOut]


class MatchedFrame(WireModel):
    """In a scored result: the frame that matched best (a video's moment, a PDF's page)."""

    id: uuid.UUID
    timestamp: str
    end_timestamp: str | None
    page_number: int | None
    # That frame's small preview (the moment or page that matched; an addition to the contract).
    thumbnail_blob: str | None = None


class MediaOut(WireModel):
    id: uuid.UUID
    name: str
    type: str
    blob: str | None
    # The small preview the grid loads instead of the original (docs/thumbnails.md); an
    # addition to the contract: null until processing makes it, and for folders.
    thumbnail: str | None
    path: str
    entity_id: uuid.UUID  # the organization, as in the seed's blob paths
    collection_id: uuid.UUID
    dataset_id: uuid.UUID
    width: int | None
    height: int | None
    duration: float | None
    page_count: int | None
    size_bytes: int | None
    mime_type: str | None
    sha256: str | None
    exif: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, Any]
    created_by_id: uuid.UUID | None
    updated_by_id: uuid.UUID | None
    status: str
    root_id: uuid.UUID | None
    version_number: int
    is_active_version: bool
    frames: list[FrameOut]
    # Scored results only (q, similarToObjectId); left out of the JSON otherwise.
    score: float | None = Field(None, alias="_score")
    matched_frame: MatchedFrame | None = None

    @model_serializer(mode="wrap")
    def _without_unset_score(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self.score is None:
            for key in ("_score", "score", "matchedFrame", "matched_frame"):
                data.pop(key, None)
        return data


class MediaEnvelope(WireModel):
    media: MediaOut


class VersionsOut(WireModel):
    versions: list[MediaOut]


class DeletedVersion(WireModel):
    deleted_id: uuid.UUID
    promoted_id: uuid.UUID | None


class Deleted(WireModel):
    id: uuid.UUID
    deleted: bool = True
    deleted_count: int


class Moved(WireModel):
    id: uuid.UUID
    new_path: str
    moved_count: int


class Restored(WireModel):
    id: uuid.UUID
    new_path: str  # where it is now: its old place, or the collection's root (lifecycle/trash.py)
    restored_count: int


class Pagination(WireModel):
    total: int
    limit: int
    offset: int
    has_more: bool


class BrowseOut(WireModel):
    media: list[MediaOut]
    pagination: Pagination


class ItemUpdate(InputModel):
    """PATCH of a media item or a folder."""

    # Left out: unchanged; null is refused (and not offered by the schema).
    name: Annotated[ItemName | SkipJsonSchema[None], NotNull] = None
    # Merged into the current metadata; a key set to null is removed.
    metadata: dict[str, Any] | None = None


class MoveBody(InputModel):
    destination_path: Annotated[str, Field(min_length=1, max_length=4096,
                                           json_schema_extra={"pattern": paths.PATTERN})]
