"""Queue processing again: one media, a collection, or everything (after a model change)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from coreviz_studio.auth.principal import Principal
from coreviz_studio.datasets.service import get_dataset
from coreviz_studio.db.tables import Media
from coreviz_studio.errors import Invalid
from coreviz_studio.ids import IdRef, parse_id
from coreviz_studio.media.service import get_row
from coreviz_studio.pipeline.queue import enqueue

_BATCH = 500


def reprocess_media(session: Session, principal: Principal, media_id: IdRef) -> tuple[Media, bool]:
    """The media and whether a new job was queued (False: one was already waiting)."""
    media = get_row(session, principal, media_id, lock=True)
    if media.type == "folder":
        raise Invalid("A folder has nothing to process; reprocess its collection instead")
    return media, enqueue(session, media, reason="reprocess", by=principal.credential_id)


def reprocess_collection(session: Session, principal: Principal, dataset_id: IdRef,
                         failed_only: bool) -> tuple[int, int]:
    dataset = get_dataset(session, principal, dataset_id)
    return requeue_where(session, dataset_id=str(dataset.id), failed_only=failed_only)


def requeue_where(session: Session, *, media_ids: list[str] | None = None,
                  dataset_id: IdRef | None = None, failed_only: bool = False) -> tuple[int, int]:
    """(queued, already waiting) for the active, non-folder media matching the filters. No
    organization check: callers have done it (the routes) or are the operator (the CLI)."""
    stmt = select(Media).where(Media.status == "active", Media.type != "folder")
    if media_ids:
        stmt = stmt.where(Media.id.in_([parse_id(m, "media") for m in media_ids]))
    if dataset_id:
        stmt = stmt.where(Media.dataset_id == parse_id(dataset_id, "dataset"))
    if failed_only:
        stmt = stmt.where(Media.metadata_["processing"]["status"].astext == "failed")
    queued = waiting = 0
    for media in session.scalars(stmt.order_by(Media.id).execution_options(yield_per=_BATCH)):
        if enqueue(session, media, reason="reprocess", bulk=True):
            queued += 1
        else:
            waiting += 1
    return queued, waiting
