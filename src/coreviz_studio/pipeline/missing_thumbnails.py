"""Thumbnails for items processed before there were any: made from their stored frames, without
processing them again (`coreviz-studio thumbnails`, docs/thumbnails.md).

`enqueue_missing` queues one job per active item that has frames but no thumbnail, in a single
statement; the job (`make_missing`) fetches the first frames, makes the picture and records it.
Each job takes the item's processing lock, so it never runs beside that item's processing, and
it records the thumbnail only if none was made meanwhile and the frames are still those it used.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import exists, select, text
from sqlalchemy.orm import Session

from coreviz_studio.db.tables import Frame, Media
from coreviz_studio.pipeline import priority, thumbnail
from coreviz_studio.pipeline.process import Pipeline, scratch_folder
from coreviz_studio.pipeline.queue import QUEUE
from coreviz_studio.storage.base import NotStored, put_file

log = logging.getLogger(__name__)
TASK = "coreviz_studio.make_thumbnail"

# One row per item, in one statement: a library of 100 000 items is one round trip. The job
# shares the processing job's lock (`media:<id>`, queue.py) and has its own queueing lock, so
# running the command twice queues nothing more. Its argument is named media_id like
# processing's, so tests/jobs.py drain finds it.
_ENQUEUE = text("""
    SELECT coalesce(array_length(procrastinate_defer_jobs_v1(ARRAY(
        SELECT ROW(:queue, :task, :priority, 'media:' || m.id, 'thumbnail:' || m.id,
                   jsonb_build_object('media_id', m.id::text,
                                      'organization_id', m.organization_id::text),
                   NULL)::procrastinate_job_to_defer_v1
          FROM media m
         WHERE m.status = 'active' AND m.type <> 'folder' AND m.thumbnail_key IS NULL
           AND (CAST(:dataset AS uuid) IS NULL OR m.dataset_id = CAST(:dataset AS uuid))
           AND EXISTS (SELECT 1 FROM frames f WHERE f.media_id = m.id)
           AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j
                            WHERE j.queueing_lock = 'thumbnail:' || m.id AND j.status = 'todo')
         ORDER BY m.id)), 1), 0)""")


def enqueue_missing(session: Session, dataset_id: uuid.UUID | None = None) -> int:
    """Queue a thumbnail job for every active item (of one collection, or all) that has frames
    and no thumbnail, in the session's transaction; how many were queued. No organization
    check: the caller is the operator."""
    return int(session.scalar(_ENQUEUE, {"queue": QUEUE, "task": TASK,
                                         "priority": priority.background(),
                                         "dataset": str(dataset_id) if dataset_id else None})
               or 0)


def make_missing(pipe: Pipeline, media_id: uuid.UUID) -> str:
    """The job: "made", "failed" (the picture could not be made; logged) or "skipped" (gone,
    not processed, or it has a thumbnail already)."""
    with pipe.session() as session:
        media = session.get(Media, media_id)
        if media is None or media.status != "active" or media.thumbnail_key is not None:
            return "skipped"
        kind = media.type
        keys = [k for k in session.scalars(
            select(Frame.blob_key).where(Frame.media_id == media_id)
            .order_by(Frame.frame_index).limit(thumbnail.candidates(kind))) if k]
    if not keys:
        return "skipped"
    with scratch_folder(pipe.settings) as out:
        frames = []
        for i, key in enumerate(keys):
            try:
                pipe.store.fetch(key, out / f"{i}.jpg")
            except NotStored:  # replaced since it was read: this item's job has nothing to do
                return "skipped"
            frames.append(out / f"{i}.jpg")
        made = thumbnail.make(kind, frames, out / f"thumbnail.{thumbnail.EXT}")
        if made is None:
            return "failed"
        key = put_file(pipe.store, made, thumbnail.EXT)
    try:
        with pipe.session() as session:
            media = session.scalar(select(Media).where(Media.id == media_id).with_for_update())
            same_frames = session.scalar(select(exists().where(
                Frame.media_id == media_id, Frame.blob_key == keys[0])))
            recorded = (media is not None and media.status == "active"
                        and media.thumbnail_key is None and bool(same_frames))
            if recorded and media is not None:
                media.thumbnail_key = key
    except BaseException:
        pipe.store.delete(key)
        raise
    if not recorded:
        pipe.store.delete(key)
        return "skipped"
    log.info("media %s: thumbnail made from its stored frames", media_id)
    return "made"

