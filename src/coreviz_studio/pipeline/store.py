"""Write what processing found, replacing whatever an earlier run wrote, in one transaction.

A re-run (a retry, a recovered stalled job, a reprocess after a model change) deletes the
media's frames (captions, objects and embeddings go with them by cascade) and inserts the new
ones, and replaces its thumbnail, in the same transaction, so readers see the old set or the
new one, never both and never half; nothing can be duplicated. The same transaction puts new
faces and objects into clusters and rebuilds the media's search document.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from coreviz_studio.ai.types import Found, Moderation
from coreviz_studio.db.tables import Caption, DetectedObject, Embedding, Frame, Media
from coreviz_studio.pipeline.analyze import FrameResult
from coreviz_studio.pipeline.decode import Decoded
from coreviz_studio.pipeline.queue import now_iso
from coreviz_studio.search import clusters, document
from coreviz_studio.understanding import taken


def replace_frames(session: Session, media: Media, decoded: Decoded,
                   results: list[FrameResult], keys: list[tuple[str, str]],
                   thumbnail_key: str | None) -> list[str]:
    """Replace `media`'s frames and its thumbnail (None: none could be made); returns the blob
    keys of the old ones (to delete once this transaction has committed)."""
    old = session.execute(select(Frame.blob_key, Frame.thumbnail_key)
                          .where(Frame.media_id == media.id)).all()
    old_thumbnail, media.thumbnail_key = media.thumbnail_key, thumbnail_key
    old_clusters: set[uuid.UUID] = set(c for c in session.scalars(
        select(DetectedObject.cluster_id).where(DetectedObject.media_id == media.id,
                                                DetectedObject.cluster_id.is_not(None))).all()
        if c is not None)
    session.execute(delete(Frame).where(Frame.media_id == media.id))
    org = media.organization_id
    moderations: list[Moderation] = []
    for spec, result, (key, thumb) in zip(decoded.frames, results, keys, strict=True):
        frame_id = uuid.uuid4()
        metadata: dict[str, Any] = {}
        if result.labels:
            metadata["labels"] = [{"name": label.name, "score": round(label.score, 4)}
                                  for label in result.labels]
        if result.moderation is not None:
            metadata["moderation"] = moderation_view(result.moderation)
            moderations.append(result.moderation)
        if spec.scene_cut:
            metadata["sceneCut"] = True
        if result.words:
            metadata["words"] = result.words  # understanding/frame_words.py
        session.add(Frame(
            id=frame_id, organization_id=org, media_id=media.id, frame_index=spec.index,
            timestamp=spec.timestamp, end_timestamp=spec.end_timestamp,
            page_number=spec.page_number, blob_key=key, thumbnail_key=thumb, width=spec.width,
            height=spec.height, text=result.text, metadata_=metadata,
        ))
        session.flush()  # the frame row exists before rows that point at it
        if result.caption:
            session.add(Caption(organization_id=org, frame_id=frame_id, text=result.caption,
                                model=result.caption_model))
        for found in result.found:
            session.add(_object_row(media, frame_id, found, spec.width, spec.height))
        for kind, vectors in (("image", result.image_vectors), ("text", result.text_vectors)):
            for model, vector in vectors.items():
                session.add(Embedding(organization_id=org, dataset_id=media.dataset_id,
                                      media_id=media.id, frame_id=frame_id, kind=kind,
                                      model=model, dim=len(vector), embedding=vector))
    if media.duration is None and decoded.duration:
        media.duration = decoded.duration
    if decoded.page_count is not None:
        media.page_count = decoded.page_count
    media.perceptual_hash = decoded.perceptual_hash  # for GET /api/dataset/{id}/duplicates
    if moderations:
        media.metadata_ = {**media.metadata_, "moderation": moderation_view(_worst(moderations))}
    media.metadata_ = taken.with_taken(media.metadata_, media.exif)  # EXIF date, camera, place
    session.flush()
    touched = clusters.assign(session, media.id)
    clusters.recount(session, old_clusters | touched)
    document.refresh(session, [media.id])
    return [k for row in old for k in row if k] + ([old_thumbnail] if old_thumbnail else [])


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


def _worst(results: list[Moderation]) -> Moderation:
    """A media is as flagged as its worst frame: the highest score per category."""
    scores: dict[str, float] = {}
    for result in results:
        for category, score in result.scores.items():
            scores[category] = max(score, scores.get(category, 0.0))
    flagged = sorted({c for result in results for c in result.flagged})
    return Moderation(scores, flagged, results[0].model)
