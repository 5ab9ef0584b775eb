"""HTTP for processing: queue a media (or a whole collection) again."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from coreviz_studio.deps import Admin, Db, Member
from coreviz_studio.ids import Id
from coreviz_studio.pipeline import reprocess
from coreviz_studio.schemas import WireModel

router = APIRouter(prefix="/api", tags=["processing"])


class MediaRequeued(WireModel):
    mediaId: str
    queued: bool  # False: a job for it was already waiting
    processing: dict[str, Any]


class CollectionRequeued(WireModel):
    queued: int
    alreadyQueued: int


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
