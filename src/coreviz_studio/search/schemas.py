"""Wire shapes of organization-wide search and of clusters."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from coreviz_studio.media.schemas import MatchedFrame
from coreviz_studio.schemas import CleanName, InputModel, WireModel

__all__ = ["MatchedFrame", "SearchHit", "SearchMedia", "SearchOut"]


class SearchMedia(WireModel):
    id: uuid.UUID
    name: str
    type: str
    dataset_id: uuid.UUID | None = None  # the collection it is in (an addition to the contract)


class SearchHit(WireModel):
    media: SearchMedia
    blob: str | None
    thumbnail: str | None  # the item's preview (docs/thumbnails.md); null until made
    objects: list[dict[str, Any]]  # {id, type, label} of the matched frame
    rank: float  # the score: higher is better; results come best first
    captions: list[dict[str, str]]  # [{text}] of the matched frame
    frame_id: uuid.UUID | None  # the frame that matched best, when one did
    # That frame's moment and page, as browse's scored results give it (an addition).
    matched_frame: MatchedFrame | None = None


class SearchOut(WireModel):
    results: list[SearchHit]


class ClusterCover(WireModel):
    object_id: uuid.UUID
    media_id: uuid.UUID
    frame_id: uuid.UUID
    bbox: dict[str, float]
    thumbnail_blob: str | None
    # The frame's size in pixels (the bbox's frame of reference): with it a client crops the
    # face or object out of the thumbnail, whatever the thumbnail's own size.
    frame_width: int | None = None
    frame_height: int | None = None


class ClusterOut(WireModel):
    id: uuid.UUID
    kind: str
    label: str | None  # objects: what they are; faces: "face"
    name: str | None
    model: str
    member_count: int
    cover: ClusterCover | None


class ClusterList(WireModel):
    clusters: list[ClusterOut]
    pagination: dict[str, Any]


class ClusterEnvelope(WireModel):
    cluster: ClusterOut


ClusterName = Annotated[str, CleanName(200, "The cluster's name (a person's, on a face cluster)")]


class ClusterUpdate(InputModel):
    name: ClusterName | None  # null removes the name
