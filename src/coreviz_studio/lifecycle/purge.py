"""The purge: an item in the trash removed for good, rows and blobs.

One trash entry is the set of rows its deletion trashed (`media.deleted_with`: the item and its
versions, or a folder and everything under it), plus the trashed rows that hang on it (versions
deleted alone, things under a folder deleted before it). Rows go first, in one transaction (the
foreign keys' cascades take frames, captions, objects and embeddings); blobs go after it
commits, and only those no row holds any more. A blob whose delete fails is left for the orphan
sweep. Running it twice, or twice at once, is harmless: the second finds nothing to do.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from coreviz_studio.blobs import refs
from coreviz_studio.db.tables import DetectedObject, Frame, Media, TusUpload
from coreviz_studio.pipeline import priority
from coreviz_studio.pipeline.process import Pipeline
from coreviz_studio.pipeline.queue import QUEUE
from coreviz_studio.search.clusters import recount

log = logging.getLogger(__name__)
TASK = "coreviz_studio.purge_media"


def enqueue_purge(session: Session, organization_id: uuid.UUID, trash_id: uuid.UUID) -> None:
    """Queue the purge of a trash entry in the caller's transaction (at most one waiting per
    entry). The argument is named media_id like processing's, so tests/jobs.py drain finds it."""
    # A savepoint: two racing requests hit the queueing lock's unique index; the loser's
    # transaction must survive that (one waiting purge is all it takes).
    with session.begin_nested() as nested:
        try:
            session.execute(
                text("SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, :priority, NULL, "
                     ":lock, CAST(:args AS jsonb), NULL)::procrastinate_job_to_defer_v1]) "
                     "WHERE NOT EXISTS (SELECT 1 FROM procrastinate_jobs "
                     "WHERE queueing_lock = :lock AND status = 'todo')"),
                {"queue": QUEUE, "task": TASK, "priority": priority.background(),
                 "lock": f"purge:{trash_id}",
                 "args": json.dumps({"media_id": str(trash_id),
                                     "organization_id": str(organization_id)})})
        except IntegrityError as exc:
            if "queueing_lock" not in str(exc):
                raise
            nested.rollback()


def _entry(session: Session, top: Media) -> list[Media]:
    """Every row that goes with the trash entry `top` (locked)."""
    trashed = [Media.status == "deleted", Media.organization_id == top.organization_id]
    with_it = [Media.deleted_with == top.id, Media.id == top.id]
    if top.type == "folder":
        with_it.append((Media.dataset_id == top.dataset_id) & Media.path.op("<@")(top.path))
    rows = list(session.scalars(select(Media).where(*trashed, or_(*with_it))
                                .with_for_update()))
    roots = {r.root_id for r in rows if r.root_id is not None}
    ids = {r.id for r in rows}
    if roots:  # versions of these items deleted alone before them
        rows += [r for r in session.scalars(select(Media).where(
            *trashed, Media.root_id.in_(roots)).with_for_update()) if r.id not in ids]
    return rows


def purge(pipe: Pipeline, trash_id: uuid.UUID) -> int:
    """Remove the trash entry `trash_id` of the pipeline's organization; how many rows went."""
    with pipe.session() as session:
        top = session.scalars(select(Media).where(Media.id == trash_id)
                              .with_for_update()).one_or_none()
        if top is None or top.status != "deleted":
            return 0  # purged already, or restored meanwhile
        rows = _entry(session, top)
        ids = {r.id for r in rows}
        keys = {k for r in rows for k in (r.blob_key, r.thumbnail_key) if k}
        for blob, thumb in session.execute(select(Frame.blob_key, Frame.thumbnail_key)
                                           .where(Frame.media_id.in_(ids))):
            keys |= {k for k in (blob, thumb) if k}
        clusters = {c for c in session.scalars(select(DetectedObject.cluster_id).where(
            DetectedObject.media_id.in_(ids))) if c is not None}
        # A version deleted alone may be the root that living versions point at (root_id
        # cascades): it stays as a bare tombstone, out of the trash, without frames or blobs.
        kept = set(session.scalars(select(Media.root_id).where(
            Media.root_id.in_(ids), Media.id.not_in(ids)).distinct()))
        if kept:
            session.execute(delete(Frame).where(Frame.media_id.in_(kept)))
            session.execute(update(Media).where(Media.id.in_(kept)).values(
                blob_key=None, thumbnail_key=None, deleted_with=None, deleted_at=None)
                .execution_options(synchronize_session=False))
        session.execute(delete(Media).where(Media.id.in_(ids - kept))
                        .execution_options(synchronize_session=False))
        # A finished tus upload keeps its answer (the media id, its blob's URL, the file's
        # name) for a while: nothing of a purged item may stay.
        session.execute(delete(TusUpload).where(
            TusUpload.result["mediaId"].astext.in_([str(i) for i in ids]))
            .execution_options(synchronize_session=False))
        recount(session, clusters)
    held = refs.holders(pipe.db, keys)
    for key in keys - held.keys():
        try:
            pipe.store.delete(key)
        except Exception:  # the sweep removes it later: no row holds it now
            log.exception("purge of %s: could not delete blob %s", trash_id, key)
    log.info("purged %s: %d rows, %d blobs", trash_id, len(ids), len(keys - held.keys()))
    return len(ids)


def expired(pipe: Pipeline, trash_days: int, now: datetime) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(organization, trash entry) of everything trashed more than `trash_days` ago: the trash's
    top-level items and versions deleted alone. Across organizations, so a system session (it
    only reads ids; each purge then runs in its organization's own session)."""
    cutoff = now - timedelta(days=trash_days)
    with pipe.db.system_sessions() as session:
        return [(r.organization_id, r.id) for r in session.execute(
            select(Media.organization_id, Media.id).where(
                Media.status == "deleted", Media.deleted_at < cutoff,
                or_(Media.deleted_with == Media.id, Media.deleted_with.is_(None))))]


def purge_expired(pipe: Pipeline, now: datetime) -> int:
    """The periodic purge: every entry trashed longer than trash_days; how many entries."""
    done = 0
    for org, trash_id in expired(pipe, pipe.settings.trash_days, now):
        try:
            purge(replace(pipe, organization_id=org), trash_id)
            done += 1
        except Exception:  # one bad entry must not stop the others; the next run tries again
            log.exception("periodic purge of %s failed", trash_id)
    return done
