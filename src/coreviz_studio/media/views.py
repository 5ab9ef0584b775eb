"""Media rows to wire shapes, with their frames, captions and objects.

A page of any size costs three queries here (frames, captions, objects for all its media at
once), never one per item.

The wire shape is written once, as plain dicts with the wire's camelCase keys (`media_wire`,
`frames_wire`). Routes that answer models validate them (`media_list`; pydantic's validation
runs in Rust, faster than building the models field by field in Python); browse, the hottest
route, serializes the dicts directly (`page_json`), so a 100-item page (~300 wire objects) is
built without one model. tests/test_browse.py checks that both give the same JSON.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Protocol

import pydantic_core
from sqlalchemy import ColumnElement, Uuid, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from coreviz_studio.db.tables import Caption, DetectedObject, Frame, Media
from coreviz_studio.media.schemas import MediaOut
from coreviz_studio.storage.urls import BlobUrls

# Objects without their embedding: vectors are for search, not for the wire.
_OBJECT_COLUMNS = (
    DetectedObject.id, DetectedObject.type, DetectedObject.label, DetectedObject.confidence,
    DetectedObject.bbox_x, DetectedObject.bbox_y, DetectedObject.bbox_width,
    DetectedObject.bbox_height, DetectedObject.model, DetectedObject.frame_id,
    DetectedObject.media_id, DetectedObject.cluster_id, DetectedObject.metadata_,
    DetectedObject.created_at,
)
# What a wire item is made of: not search_text and search_vector (a PDF's document can be
# 100 KB, and the wire never shows it). Rows selected with these read like Media objects.
MEDIA_COLUMNS = (
    Media.id, Media.name, Media.type, Media.blob_key, Media.thumbnail_key, Media.path,
    Media.organization_id, Media.dataset_id, Media.width, Media.height, Media.duration,
    Media.page_count, Media.size_bytes, Media.mime_type, Media.sha256, Media.exif,
    Media.created_at, Media.updated_at, Media.metadata_.label("metadata_"), Media.created_by_id,
    Media.updated_by_id, Media.status, Media.root_id, Media.version_number,
    Media.is_active_version,
)


class MediaLike(Protocol):
    """A Media object, or a row of MEDIA_COLUMNS."""

    id: uuid.UUID
    type: str


_UUIDS = ARRAY(Uuid())


def _among(column: Any, ids: Sequence[uuid.UUID]) -> ColumnElement[bool]:
    """column = ANY(one uuid[] parameter): unlike IN (...), not a parameter per id to render."""
    return column == any_(bindparam(None, list(ids), type_=_UUIDS))


def _seconds(value: float | None) -> str | None:
    if value is None:
        return None
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


seconds = _seconds  # a frame's timestamp as the wire writes it (search/scored.py too)


def frames_wire(session: Session, media_ids: Sequence[uuid.UUID],
                urls: BlobUrls) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """Every frame of these media, in order, each with its captions and objects (wire dicts).
    Rows are read as plain tuples, never ORM objects."""
    if not media_ids:
        return {}
    frames = session.execute(
        select(Frame.__table__).where(_among(Frame.media_id, media_ids))
        .order_by(Frame.media_id, Frame.frame_index)).all()
    frame_ids = [f.id for f in frames]
    captions: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    objects: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    if frame_ids:
        for c in session.execute(select(Caption.__table__)
                                 .where(_among(Caption.frame_id, frame_ids))
                                 .order_by(Caption.created_at, Caption.id)):
            captions[c.frame_id].append({
                "id": c.id, "text": c.text, "frameId": c.frame_id, "model": c.model,
                "status": c.status, "metadata": c.metadata, "createdById": c.created_by_id,
                "createdAt": c.created_at, "updatedAt": c.updated_at})
        rows = session.execute(select(*_OBJECT_COLUMNS)
                               .where(_among(DetectedObject.frame_id, frame_ids))
                               .order_by(DetectedObject.confidence.desc().nulls_last(),
                                         DetectedObject.id))
        for o in rows:
            objects[o.frame_id].append({
                "id": o.id, "type": o.type, "label": o.label, "confidence": o.confidence,
                "bbox": {"x": o.bbox_x, "y": o.bbox_y, "width": o.bbox_width,
                         "height": o.bbox_height},
                "model": o.model, "frameId": o.frame_id, "mediaId": o.media_id,
                "clusterId": o.cluster_id, "metadata": o.metadata_, "createdAt": o.created_at})
    out: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for f in frames:
        out[f.media_id].append({
            "id": f.id, "timestamp": _seconds(f.timestamp) or "0",
            "endTimestamp": _seconds(f.end_timestamp), "blob": urls.of(f.blob_key),
            "thumbnailBlob": urls.of(f.thumbnail_key), "width": f.width, "height": f.height,
            "pageNumber": f.page_number, "text": f.text, "status": f.status,
            "metadata": f.metadata, "mediaId": f.media_id, "createdById": f.created_by_id,
            "createdAt": f.created_at, "updatedAt": f.updated_at,
            "captions": captions.get(f.id, []), "objects": objects.get(f.id, [])})
    return out


def media_wire(media: Any, frames: list[dict[str, Any]], urls: BlobUrls) -> dict[str, Any]:
    """One item as the wire shows it (MediaOut's fields, by their aliases), from a Media object
    or a row of MEDIA_COLUMNS."""
    return {
        "id": media.id, "name": media.name, "type": media.type, "blob": urls.of(media.blob_key),
        "thumbnail": urls.of(media.thumbnail_key), "path": media.path,
        "entityId": media.organization_id, "collectionId": media.dataset_id,
        "datasetId": media.dataset_id, "width": media.width, "height": media.height,
        "duration": media.duration, "pageCount": media.page_count,
        "sizeBytes": media.size_bytes, "mimeType": media.mime_type, "sha256": media.sha256,
        "exif": media.exif, "createdAt": media.created_at, "updatedAt": media.updated_at,
        "metadata": media.metadata_, "createdById": media.created_by_id,
        "updatedById": media.updated_by_id, "status": media.status, "rootId": media.root_id,
        "versionNumber": media.version_number, "isActiveVersion": media.is_active_version,
        "frames": frames}


def wire_list(session: Session, rows: Sequence[MediaLike],
              urls: BlobUrls) -> list[dict[str, Any]]:
    frames = frames_wire(session, [m.id for m in rows if m.type != "folder"], urls)
    return [media_wire(m, frames.get(m.id, []), urls) for m in rows]


def media_out(media: Media, frames: list[dict[str, Any]], urls: BlobUrls) -> MediaOut:
    return MediaOut.model_validate(media_wire(media, frames, urls))


def media_list(session: Session, rows: Sequence[MediaLike], urls: BlobUrls) -> list[MediaOut]:
    return [MediaOut.model_validate(item) for item in wire_list(session, rows, urls)]


def page_json(items: list[dict[str, Any]], total: int, limit: int, offset: int) -> bytes:
    """A browse answer (BrowseOut's shape) as JSON bytes."""
    return pydantic_core.to_json({"media": items, "pagination": {
        "total": total, "limit": limit, "offset": offset,
        "hasMore": offset + len(items) < total}})
