"""Scored browsing (`q`, `similarToObjectId`) and organization-wide search (`/api/search`).

The scored candidates (search/scoring.py) are joined to the media rows with every browse filter
(path, recursive, type, dates, tags, tagFilters, clusterId), ordered best first and paged in the
same query, so `total` and `hasMore` are exact for what the search found.
"""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coreviz_studio.ai.registry import Models, models_for
from coreviz_studio.auth.principal import Principal
from coreviz_studio.config import Settings
from coreviz_studio.datasets.service import get_dataset
from coreviz_studio.db.tables import (
    Caption,
    DetectedObject,
    Embedding,
    Frame,
    Media,
    visible_media,
)
from coreviz_studio.errors import Invalid, NotFound
from coreviz_studio.ids import IdRef, parse_id
from coreviz_studio.lru import Lru
from coreviz_studio.media import tree
from coreviz_studio.media.browse import BrowseQuery, clean_query, conditions
from coreviz_studio.media.schemas import BrowseOut, Pagination
from coreviz_studio.media.views import media_list, seconds
from coreviz_studio.search import broad_words, scoring, similar_models
from coreviz_studio.search.schemas import MatchedFrame, SearchHit, SearchMedia, SearchOut
from coreviz_studio.storage.urls import BlobUrls
from coreviz_studio.tenancy import scoped
from coreviz_studio.understanding import cutoff

MAX_SEARCH_LIMIT = 100


def query_vectors(models: Models, q: str) -> list[scoring.QueryVector]:
    """The query in every space frames were embedded in (none when no model is enabled);
    a query asked again (paging, a moved cutoff) is answered from a per-process cache."""
    key = (models.text.name if models.text else None,
           models.clip.name if models.clip else None, q)
    cached = _vector_cache.get(key)
    if cached is not None:
        return list(cached)
    vectors = []
    if models.text is not None:
        vectors.append(scoring.QueryVector(models.text.name, "text", models.text.embed([q])[0]))
    if models.clip is not None:
        vectors.append(scoring.QueryVector(models.clip.name, "image",
                                           models.clip.embed_texts([q])[0]))
    _vector_cache.put(key, tuple(vectors))
    return vectors


_vector_cache: Lru[tuple[str | None, str | None, str], tuple[scoring.QueryVector, ...]] = Lru(
    1024)


def _vectors_outside_transaction(session: Session, settings: Settings,
                                 q: BrowseQuery) -> list[scoring.QueryVector]:
    """Embed the query with no transaction open: the request's (authentication's) ends
    first, so its pooled connection is free while the model runs (tens of ms of CPU); the
    next query opens a new one, scoped to the caller again (db/rls.py)."""
    if not q.q:
        return []
    session.commit()
    return query_vectors(models_for(settings), q.q)


def _candidates(session: Session, principal: Principal, settings: Settings,
                q: BrowseQuery, scope: scoring.Scope, vectors: list[scoring.QueryVector]) -> Any:
    scoring.tune(session, settings.search_ef_search, settings.search_max_scan_tuples)
    if q.q:
        counted = broad_words.key(session, scope.organization_id, scope.dataset_id, q.q,
                                  scoring.BROAD_WORDS)
        clause = scoring.hybrid(q.q, vectors, scope, settings.search_candidates,
                                settings.search_min_similarity,
                                known=broad_words.known(counted))
        learn = functools.partial(broad_words.learn, counted)
        if settings.search_cutoff and cutoff.applies(vectors):
            return scoring.found(session, clause, learn, keep=cutoff.relevant)
        return scoring.found(session, clause, learn)
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
    vectors = _vectors_outside_transaction(session, settings, q)
    dataset = get_dataset(session, principal, dataset_id)
    container = tree.container(session, principal, dataset, q.path)
    scored = _candidates(session, principal, settings, q,
                         scoring.Scope(principal.organization_id, dataset.id), vectors)
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


def check_model(settings: Settings, model: str | None) -> None:
    """A similarToObjectModel that names no similarity model is a 422 whether or not
    similarToObjectId comes with it (the schema lists the names: a request outside them is
    invalid, not ignored)."""
    similar_models.checked(model, models_for(settings))


def search(session: Session, principal: Principal, settings: Settings, q: str,
           organization_id: IdRef | None, limit: int, urls: BlobUrls,
           similar_to: IdRef | None = None, similar_model: str | None = None) -> SearchOut:
    """`GET /api/search`: every collection of the caller's organization, best first; with
    `similar_to` (an object's id), the media whose objects look like it (`q` is ignored)."""
    check_model(settings, similar_model)
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
    vectors = _vectors_outside_transaction(session, settings, query)
    scored = _candidates(session, principal, settings, query,
                         scoring.Scope(principal.organization_id, None), vectors)
    rows = session.execute(
        select(Media, scored.c.frame_id, scored.c.score)
        .join(scored, scored.c.media_id == Media.id)
        .where(Media.organization_id == principal.organization_id, *visible_media())
        .order_by(scored.c.score.desc(), Media.id).limit(limit)).all()
    return SearchOut(results=_hits(session, rows, urls))


_HIT_OBJECTS = 50
_HIT_CAPTIONS = 5


def _hits(session: Session, rows: Sequence[Any], urls: BlobUrls) -> list[SearchHit]:
    """The hits with their matched frame, objects (50) and captions (5): of the matched frame,
    or of the whole item when no frame matched. Five queries whatever the number of hits."""
    frame_ids = [r.frame_id for r in rows if r.frame_id]
    whole = [r.Media.id for r in rows if not r.frame_id]  # hits by name or metadata only
    frames = {f.id: f for f in session.execute(
        select(Frame.__table__).where(Frame.id.in_(frame_ids))).all()} if frame_ids else {}
    objects: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    captions: dict[uuid.UUID, list[dict[str, str]]] = defaultdict(list)
    for by, ids in ((DetectedObject.frame_id, frame_ids), (DetectedObject.media_id, whole)):
        if ids:
            for o in _first(session, select(DetectedObject.id, DetectedObject.type,
                                            DetectedObject.label, by.label("hit")),
                            by, ids, DetectedObject.confidence.desc().nulls_last(),
                            _HIT_OBJECTS):
                objects[o.hit].append({"id": o.id, "type": o.type, "label": o.label})
    for by, ids in ((Frame.id, frame_ids), (Frame.media_id, whole)):
        if ids:
            for c in _first(session, select(Caption.text, by.label("hit"))
                            .join(Frame, Frame.id == Caption.frame_id), by, ids,
                            Frame.frame_index, _HIT_CAPTIONS):
                captions[c.hit].append({"text": c.text})
    hits = []
    for r in rows:
        media, key = r.Media, r.frame_id or r.Media.id
        frame = frames.get(r.frame_id) if r.frame_id else None
        matched = None if frame is None else MatchedFrame(
            id=frame.id, timestamp=seconds(frame.timestamp) or "0",
            end_timestamp=seconds(frame.end_timestamp), page_number=frame.page_number,
            thumbnail_blob=urls.of(frame.thumbnail_key))
        hits.append(SearchHit(
            media=SearchMedia(id=media.id, name=media.name, type=media.type,
                              dataset_id=media.dataset_id),
            matched_frame=matched,
            blob=urls.of(media.blob_key), thumbnail=urls.of(media.thumbnail_key),
            rank=round(float(r.score), 6), objects=objects[key], captions=captions[key],
            frame_id=r.frame_id))
    return hits


def _first(session: Session, stmt: Any, by: Any, ids: list[uuid.UUID], order: Any,
           limit: int) -> Sequence[Any]:
    """The first `limit` rows of `stmt` for each of `ids` (grouped by `by`), in `order`."""
    ranked = stmt.add_columns(func.row_number().over(partition_by=by, order_by=order)
                              .label("n")).where(by.in_(ids)).subquery()
    return session.execute(select(ranked).where(ranked.c.n <= limit)
                           .order_by(ranked.c.hit, ranked.c.n)).all()
