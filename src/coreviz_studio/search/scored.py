"""Scored browsing (`q`, `similarToObjectId`) and organization-wide search (`/api/search`).

The scored candidates (search/scoring.py) are joined to the media rows with every browse filter
(path, recursive, type, dates, tags, tagFilters, clusterId), ordered best first and paged in the
same query, so `total` and `hasMore` are exact for what the search found.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coreviz_studio.ai.registry import Models, models_for
from coreviz_studio.auth.principal import Principal
from coreviz_studio.config import Settings
from coreviz_studio.datasets.service import get_dataset
from coreviz_studio.db.tables import Caption, DetectedObject, Embedding, Frame, Media
from coreviz_studio.errors import Invalid, NotFound
from coreviz_studio.ids import IdRef, parse_id
from coreviz_studio.media import tree
from coreviz_studio.media.browse import BrowseQuery, clean_query, conditions
from coreviz_studio.media.schemas import BrowseOut, Pagination
from coreviz_studio.media.views import media_list, seconds
from coreviz_studio.search import scoring, similar_models
from coreviz_studio.search.schemas import MatchedFrame, SearchHit, SearchMedia, SearchOut
from coreviz_studio.storage.urls import BlobUrls
from coreviz_studio.tenancy import scoped

MAX_SEARCH_LIMIT = 100


def query_vectors(models: Models, q: str) -> list[scoring.QueryVector]:
    """The query in every space frames were embedded in (none when no model is enabled)."""
    vectors = []
    if models.text is not None:
        vectors.append(scoring.QueryVector(models.text.name, "text", models.text.embed([q])[0]))
    if models.clip is not None:
        vectors.append(scoring.QueryVector(models.clip.name, "image",
                                           models.clip.embed_texts([q])[0]))
    return vectors


def _candidates(session: Session, principal: Principal, settings: Settings,
                q: BrowseQuery, scope: scoring.Scope) -> Any:
    scoring.tune(session, settings.search_ef_search, settings.search_max_scan_tuples)
    if q.q:
        vectors = query_vectors(models_for(settings), q.q)
        clause = scoring.hybrid(q.q, vectors, scope, settings.search_candidates,
                                settings.search_min_similarity)
    else:
        assert q.similar_to is not None
        model = similar_models.checked(q.similar_model, models_for(settings))
        clause = _similar(session, principal, q.similar_to, model, scope,
                          settings.search_candidates)
    return scoring.found(session, clause)


def _similar(session: Session, principal: Principal, object_id: uuid.UUID, model: str | None,
             scope: scoring.Scope, candidates: int) -> Any:
    source = session.scalars(
        scoped(DetectedObject, principal).join(Media, Media.id == DetectedObject.media_id)
        .where(DetectedObject.id == object_id, Media.status == "active")).first()
    if source is None:
        raise NotFound("Object not found")
    if model == "image":
        frame = session.scalars(select(Embedding).where(
            Embedding.frame_id == source.frame_id, Embedding.kind == "image")
            .order_by(Embedding.model)).first()
        if frame is None:
            raise Invalid("The object's frame has no image embedding: reprocess its item (POST "
                          "/api/media/{mediaId}/reprocess)")
        return scoring.similar(np.asarray(frame.embedding, dtype=np.float32), frame.model,
                               "embeddings", scope, candidates, source.frame_id, None)
    if model in ("faces", "objects") and source.type != model[:-1]:
        raise similar_models.mismatch(model, source.type)
    if source.embedding is None or source.embedding_model is None:
        raise Invalid(f"This {source.type} object has no embedding to compare (faces and "
                      "detected objects have one; text lines do not): use "
                      "similarToObjectModel=image to compare whole frames")
    return scoring.similar(np.asarray(source.embedding, dtype=np.float32),
                           source.embedding_model, "objects", scope, candidates, source.id,
                           source.type)


def browse_scored(session: Session, principal: Principal, settings: Settings, dataset_id: IdRef,
                  q: BrowseQuery, urls: BlobUrls) -> BrowseOut:
    dataset = get_dataset(session, principal, dataset_id)
    container = tree.container(session, principal, dataset, q.path)
    scored = _candidates(session, principal, settings, q,
                         scoring.Scope(principal.organization_id, dataset.id))
    stmt = (select(Media, scored.c.frame_id, scored.c.score, func.count().over().label("total"))
            .join(scored, scored.c.media_id == Media.id)
            .where(Media.organization_id == principal.organization_id,
                   Media.dataset_id == dataset.id, *conditions(q, container))
            .order_by(scored.c.score.desc(), Media.id).limit(q.limit or 1).offset(q.offset))
    rows = session.execute(stmt).all()
    total = rows[0].total if rows else _total_past_end(session, stmt)
    page = rows if q.limit else []
    media = media_list(session, [r.Media for r in page], urls)
    for out, row in zip(media, page, strict=True):
        out.score = round(float(row.score), 6)
        out.matched_frame = _matched(out, row.frame_id)
    return BrowseOut(media=media, pagination=Pagination(
        total=total, limit=q.limit, offset=q.offset, has_more=q.offset + len(page) < total))


def _total_past_end(session: Session, stmt: Any) -> int:
    """The total when the page is empty (an offset past the end): count the same rows."""
    counted = stmt.limit(None).offset(None).order_by(None).subquery()
    return session.scalar(select(func.count()).select_from(counted)) or 0


def _matched(out: Any, frame_id: uuid.UUID | None) -> MatchedFrame | None:
    for frame in out.frames:
        if frame.id == frame_id:
            return MatchedFrame(id=frame.id, timestamp=frame.timestamp,
                                end_timestamp=frame.end_timestamp, page_number=frame.page_number,
                                thumbnail_blob=frame.thumbnail_blob)
    return None


def search(session: Session, principal: Principal, settings: Settings, q: str,
           organization_id: IdRef | None, limit: int, urls: BlobUrls,
           similar_to: IdRef | None = None, similar_model: str | None = None) -> SearchOut:
    """`GET /api/search`: every collection of the caller's organization, best first; with
    `similar_to` (an object's id), the media whose objects look like it (`q` is ignored)."""
    if organization_id and parse_id(organization_id, "organization") != \
            principal.organization_id:
        raise NotFound("Organization not found")
    if similar_to:
        query = BrowseQuery(similar_to=parse_id(similar_to, "object"),
                            similar_model=similar_model, recursive=True)
    else:
        query = BrowseQuery(q=clean_query(q), recursive=True)
        if not query.q:
            return SearchOut(results=[])
    scored = _candidates(session, principal, settings, query,
                         scoring.Scope(principal.organization_id, None))
    rows = session.execute(
        select(Media, scored.c.frame_id, scored.c.score)
        .join(scored, scored.c.media_id == Media.id)
        .where(Media.organization_id == principal.organization_id, Media.status == "active",
               Media.is_active_version)
        .order_by(scored.c.score.desc(), Media.id).limit(limit)).all()
    return SearchOut(results=[_hit(session, r.Media, r.frame_id, float(r.score), urls)
                              for r in rows])


def _hit(session: Session, media: Media, frame_id: uuid.UUID | None, score: float,
         urls: BlobUrls) -> SearchHit:
    frame_filter = (Frame.id == frame_id) if frame_id else (Frame.media_id == media.id)
    objects = session.execute(
        select(DetectedObject.id, DetectedObject.type, DetectedObject.label)
        .join(Frame, Frame.id == DetectedObject.frame_id).where(frame_filter)
        .order_by(DetectedObject.confidence.desc().nulls_last()).limit(50)).all()
    captions = session.scalars(select(Caption.text).join(Frame, Frame.id == Caption.frame_id)
                               .where(frame_filter).order_by(Frame.frame_index).limit(5)).all()
    frame = session.get(Frame, frame_id) if frame_id else None
    matched = None if frame is None else MatchedFrame(
        id=frame.id, timestamp=seconds(frame.timestamp) or "0",
        end_timestamp=seconds(frame.end_timestamp), page_number=frame.page_number,
        thumbnail_blob=urls.of(frame.thumbnail_key))
    return SearchHit(
        media=SearchMedia(id=media.id, name=media.name, type=media.type,
                          dataset_id=media.dataset_id),
        matched_frame=matched,
        blob=urls.of(media.blob_key), thumbnail=urls.of(media.thumbnail_key),
        rank=round(score, 6),
        objects=[{"id": o.id, "type": o.type, "label": o.label} for o in objects],
        captions=[{"text": t} for t in captions], frame_id=frame_id)
