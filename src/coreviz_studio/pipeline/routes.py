"""HTTP for processing: queue a media (or a whole collection) again; where the queue stands."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from coreviz_studio.deps import Admin, Db, Member, Viewer
from coreviz_studio.ids import Id
from coreviz_studio.pipeline import backlog, reprocess
from coreviz_studio.schemas import WireModel

router = APIRouter(prefix="/api", tags=["processing"])


class MediaRequeued(WireModel):
    mediaId: str
    queued: bool  # False: a job for it was already waiting
    processing: dict[str, Any]


class CollectionRequeued(WireModel):
    queued: int
    alreadyQueued: int


class OldestWaiting(WireModel):
    id: str
    name: str
    queuedAt: str | None
    datasetId: str


class QueueStatus(WireModel):
    queued: int  # waiting for a worker (retries and waits for the server included)
    processing: int
    failed: int
    ready: int
    oldestWaiting: OldestWaiting | None
    withFailedStep: int = 0  # ready items one of whose steps failed (docs/processing.md)


@router.post("/media/{media_id}/reprocess", status_code=202, response_model=MediaRequeued)
def reprocess_media(media_id: Id, db: Db, principal: Member) -> MediaRequeued:
    """Process this media again (after a model change, or after it failed)."""
    media, queued = reprocess.reprocess_media(db, principal, media_id)
    return MediaRequeued(mediaId=str(media.id), queued=queued,
                         processing=media.metadata_.get("processing") or {})


@router.post("/dataset/{dataset_id}/reprocess", status_code=202,
             response_model=CollectionRequeued)
def reprocess_collection(dataset_id: Id, db: Db, principal: Admin,
                         failedOnly: bool = False) -> CollectionRequeued:
    """Process every media of the collection again (admins); `failedOnly=true` for the
    failed ones."""
    queued, waiting = reprocess.reprocess_collection(db, principal, dataset_id, failedOnly)
    return CollectionRequeued(queued=queued, alreadyQueued=waiting)


@router.get("/queue", response_model=QueueStatus)
def queue_status(db: Db, principal: Viewer, datasetId: Id | None = None) -> QueueStatus:
    """Your organization's items by processing state (of one collection with `datasetId`) and
    the one that has waited longest."""
    b = backlog.backlog(db, principal, datasetId)
    oldest = (OldestWaiting(id=str(b.oldest.id), name=b.oldest.name,
                            queuedAt=b.oldest.queued_at, datasetId=str(b.oldest.dataset_id))
              if b.oldest else None)
    return QueueStatus(queued=b.queued, processing=b.processing, failed=b.failed, ready=b.ready,
                       oldestWaiting=oldest, withFailedStep=b.with_failed_step)
