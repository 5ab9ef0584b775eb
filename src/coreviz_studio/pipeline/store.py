"""Write what processing found: the frames of a decode, and each step's own rows.

The decode step replaces the media's frames (captions, objects and embeddings go with them by
cascade) and its thumbnail in one transaction, so readers see the old set or the new one,
never both and never half. Each capability step then replaces only its own rows (the faces
step the media's face objects, the caption step its captions...) in its own transaction, or
its own savepoint of the one the per-frame steps share (steps/runner.py); running a step
again replaces what it wrote, so nothing can be duplicated.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from coreviz_studio.ai.types import Found, Moderation
from coreviz_studio.db.tables import DetectedObject, Frame, Media
from coreviz_studio.pipeline.decode import Decoded
from coreviz_studio.pipeline.queue import now_iso
from coreviz_studio.search import clusters
from coreviz_studio.understanding import taken

TEXT_LAYER = "textLayer"  # frame metadata: how many leading characters of `text` the file had


def replace_frames(session: Session, media: Media, decoded: Decoded,
                   keys: list[tuple[str, str]], thumbnail_key: str | None) -> list[str]:
    """Replace `media`'s frames and its thumbnail (None: none could be made); returns the blob
    keys of the old ones (to delete once this transaction has committed)."""
    old = session.execute(select(Frame.blob_key, Frame.thumbnail_key)
                          .where(Frame.media_id == media.id)).all()
    old_thumbnail, media.thumbnail_key = media.thumbnail_key, thumbnail_key
    old_clusters = _clusters_of(session, media.id, None)
    session.execute(delete(Frame).where(Frame.media_id == media.id))
    for spec, (key, thumb) in zip(decoded.frames, keys, strict=True):
        metadata: dict[str, Any] = {}
        if spec.scene_cut:
            metadata["sceneCut"] = True
        if spec.text:
            metadata[TEXT_LAYER] = len(spec.text)  # the text step adds what it reads after it
        session.add(Frame(
            id=uuid.uuid4(), organization_id=media.organization_id, media_id=media.id,
            frame_index=spec.index, timestamp=spec.timestamp, end_timestamp=spec.end_timestamp,
            page_number=spec.page_number, blob_key=key, thumbnail_key=thumb, width=spec.width,
            height=spec.height, text=spec.text, metadata_=metadata,
        ))
    if media.duration is None and decoded.duration:
        media.duration = decoded.duration
    if decoded.page_count is not None:
        media.page_count = decoded.page_count
    media.perceptual_hash = decoded.perceptual_hash  # for GET /api/dataset/{id}/duplicates
    media.metadata_ = {k: v for k, v in media.metadata_.items() if k != "moderation"}
    media.metadata_ = taken.with_taken(media.metadata_, media.exif)  # EXIF date, camera, place
    session.flush()
    clusters.recount(session, old_clusters)
    return [k for row in old for k in row if k] + ([old_thumbnail] if old_thumbnail else [])


def replace_objects(session: Session, media: Media, kind: str,
                    found: dict[uuid.UUID, list[Found]], sizes: dict[uuid.UUID, tuple[int, int]]
                    ) -> None:
    """Replace the media's objects of one `kind` ("object", "face", "text") by `found` (frame
    id -> what was found there), and put the new ones into clusters."""
    old_clusters = _clusters_of(session, media.id, kind)
    session.execute(delete(DetectedObject).where(DetectedObject.media_id == media.id,
                                                 DetectedObject.type == kind))
    for frame_id, items in found.items():
        width, height = sizes[frame_id]
        for item in items:
            session.add(_object_row(media, frame_id, item, width, height))
    session.flush()
    touched = clusters.assign(session, media.id)
    clusters.recount(session, old_clusters | touched)


def _clusters_of(session: Session, media_id: uuid.UUID, kind: str | None) -> set[uuid.UUID]:
    stmt = select(DetectedObject.cluster_id).where(DetectedObject.media_id == media_id,
                                                   DetectedObject.cluster_id.is_not(None))
    if kind is not None:
        stmt = stmt.where(DetectedObject.type == kind)
    return {c for c in session.scalars(stmt).all() if c is not None}


def _object_row(media: Media, frame_id: uuid.UUID, found: Found, width: int,
                height: int) -> DetectedObject:
    box = found.box.clamped(width, height)
    return DetectedObject(
        organization_id=media.organization_id, dataset_id=media.dataset_id, media_id=media.id,
        frame_id=frame_id, type=found.type, label=found.label[:1000],
        confidence=round(float(found.confidence), 4), bbox_x=round(box.x, 1),
        bbox_y=round(box.y, 1), bbox_width=round(box.width, 1), bbox_height=round(box.height, 1),
        model=found.model, embedding_model=found.embedding_model if found.embedding is not None
        else None, embedding=found.embedding,
    )


def moderation_view(result: Moderation) -> dict[str, Any]:
    """`metadata.moderation` as the seed shows it, plus the scores and the model."""
    return {"status": "flagged" if result.flagged else "approved",
            "categories": list(result.flagged), "moderatedAt": now_iso(),
            "scores": {k: round(v, 4) for k, v in result.scores.items()}, "model": result.model}


def worst(results: list[Moderation]) -> Moderation:
    """A media is as flagged as its worst frame: the highest score per category."""
    scores: dict[str, float] = {}
    for result in results:
        for category, score in result.scores.items():
            scores[category] = max(score, scores.get(category, 0.0))
    flagged = sorted({c for result in results for c in result.flagged})
    return Moderation(scores, flagged, results[0].model)
