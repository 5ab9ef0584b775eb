"""Media rows to wire shapes, with their frames, captions and objects.

A page of any size costs three queries here (frames, captions, objects for all its media at
once), never one per item.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from coreviz_studio.db.tables import Caption, DetectedObject, Frame, Media
from coreviz_studio.media.schemas import BBox, CaptionOut, FrameOut, MediaOut, ObjectOut
from coreviz_studio.storage.urls import BlobUrls

# Objects without their embedding: vectors are for search, not for the wire.
_OBJECT_COLUMNS = (
    DetectedObject.id, DetectedObject.type, DetectedObject.label, DetectedObject.confidence,
    DetectedObject.bbox_x, DetectedObject.bbox_y, DetectedObject.bbox_width,
    DetectedObject.bbox_height, DetectedObject.model, DetectedObject.frame_id,
    DetectedObject.media_id, DetectedObject.cluster_id, DetectedObject.metadata_,
    DetectedObject.created_at,
)


def _seconds(value: float | None) -> str | None:
    if value is None:
        return None
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


seconds = _seconds  # a frame's timestamp as the wire writes it (search/scored.py too)


def frames_of(session: Session, media_ids: Sequence[uuid.UUID],
              urls: BlobUrls) -> dict[uuid.UUID, list[FrameOut]]:
    """Every frame of these media, in order, each with its captions and objects.

    Rows are read as plain tuples (no ORM objects) and the wire models built with
    `model_construct`: the values come from typed columns, so validating them again would
    only cost time (a 100-item page holds some 300 of these)."""
    if not media_ids:
        return {}
    frames = session.execute(
        select(Frame.__table__).where(Frame.media_id.in_(media_ids))
        .order_by(Frame.media_id, Frame.frame_index)).all()
    frame_ids = [f.id for f in frames]
    captions: dict[uuid.UUID, list[CaptionOut]] = defaultdict(list)
    objects: dict[uuid.UUID, list[ObjectOut]] = defaultdict(list)
    if frame_ids:
        for c in session.execute(select(Caption.__table__)
                                 .where(Caption.frame_id.in_(frame_ids))
                                 .order_by(Caption.created_at, Caption.id)):
            captions[c.frame_id].append(CaptionOut.model_construct(
                id=c.id, text=c.text, frame_id=c.frame_id, model=c.model, status=c.status,
                metadata=c.metadata, created_by_id=c.created_by_id, created_at=c.created_at,
                updated_at=c.updated_at))
        rows = session.execute(select(*_OBJECT_COLUMNS)
                               .where(DetectedObject.frame_id.in_(frame_ids))
                               .order_by(DetectedObject.confidence.desc().nulls_last(),
                                         DetectedObject.id))
        for o in rows:
            objects[o.frame_id].append(ObjectOut.model_construct(
                id=o.id, type=o.type, label=o.label, confidence=o.confidence,
                bbox=BBox.model_construct(x=o.bbox_x, y=o.bbox_y, width=o.bbox_width,
                                          height=o.bbox_height),
                model=o.model, frame_id=o.frame_id, media_id=o.media_id, cluster_id=o.cluster_id,
                metadata=o.metadata_, created_at=o.created_at))
    out: dict[uuid.UUID, list[FrameOut]] = defaultdict(list)
    for f in frames:
        out[f.media_id].append(FrameOut.model_construct(
            id=f.id, timestamp=_seconds(f.timestamp) or "0",
            end_timestamp=_seconds(f.end_timestamp), blob=urls.of(f.blob_key),
            thumbnail_blob=urls.of(f.thumbnail_key), width=f.width, height=f.height,
            page_number=f.page_number, text=f.text, status=f.status, metadata=f.metadata,
            media_id=f.media_id, created_by_id=f.created_by_id, created_at=f.created_at,
            updated_at=f.updated_at, captions=captions[f.id], objects=objects[f.id]))
    return out


def media_out(media: Media, frames: list[FrameOut], urls: BlobUrls) -> MediaOut:
    return MediaOut.model_construct(
        id=media.id, name=media.name, type=media.type, blob=urls.of(media.blob_key),
        thumbnail=urls.of(media.thumbnail_key),
        path=media.path, entity_id=media.organization_id, collection_id=media.dataset_id,
        dataset_id=media.dataset_id, width=media.width, height=media.height,
        duration=media.duration, page_count=media.page_count, size_bytes=media.size_bytes,
        mime_type=media.mime_type, sha256=media.sha256, exif=media.exif,
        created_at=media.created_at, updated_at=media.updated_at, metadata=media.metadata_,
        created_by_id=media.created_by_id, updated_by_id=media.updated_by_id,
        status=media.status, root_id=media.root_id, version_number=media.version_number,
        is_active_version=media.is_active_version, frames=frames)


def media_list(session: Session, rows: Sequence[Media], urls: BlobUrls) -> list[MediaOut]:
    frames = frames_of(session, [m.id for m in rows if m.type != "folder"], urls)
    return [media_out(m, frames.get(m.id, []), urls) for m in rows]
