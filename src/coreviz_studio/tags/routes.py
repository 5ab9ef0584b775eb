"""HTTP for tags."""

from __future__ import annotations

from fastapi import APIRouter

from coreviz_studio.deps import Db, Member, Viewer
from coreviz_studio.ids import Id
from coreviz_studio.tags import service
from coreviz_studio.tags.schemas import CollectionTags, MediaTags, TagAdd, TagRemove, TagRename

router = APIRouter(prefix="/api", tags=["tags"])


@router.post("/media/{media_id}/tags", response_model=MediaTags)
def add_tag(media_id: Id, body: TagAdd, db: Db, principal: Member) -> MediaTags:
    return service.add_tag(db, principal, media_id, body.label, body.value)


@router.delete("/media/{media_id}/tags", response_model=MediaTags)
def remove_tag(media_id: Id, body: TagRemove, db: Db, principal: Member) -> MediaTags:
    return service.remove_tag(db, principal, media_id, body.label, body.value)


@router.patch("/media/{media_id}/tags", response_model=MediaTags)
def rename_group(media_id: Id, body: TagRename, db: Db,
                 principal: Member) -> MediaTags:
    return service.rename_group(db, principal, media_id, body.old_label, body.new_label)


@router.get("/dataset/{dataset_id}/tags", response_model=CollectionTags)
def collection_tags(dataset_id: Id, db: Db, principal: Viewer) -> CollectionTags:
    return service.collection_tags(db, principal, dataset_id)
