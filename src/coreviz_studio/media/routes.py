"""HTTP for media items and browsing; all rules live in the services."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from coreviz_studio.deps import Config, Db, Member, Urls, Viewer
from coreviz_studio.ids import Id
from coreviz_studio.lifecycle import trash
from coreviz_studio.media import browse as browsing
from coreviz_studio.media import service
from coreviz_studio.media.schemas import (
    BrowseOut,
    Deleted,
    DeletedVersion,
    ItemUpdate,
    MediaEnvelope,
    MoveBody,
    Moved,
    Restored,
    VersionsOut,
)
from coreviz_studio.search import scored

router = APIRouter(prefix="/api", tags=["media"])


@router.get("/dataset/{dataset_id}/media", response_model=BrowseOut)
def browse(dataset_id: Id, params: Annotated[browsing.BrowseParams, Query()], db: Db,
           principal: Viewer, urls: Urls, settings: Config) -> BrowseOut | Response:
    """Browse or search a collection (see API.md). With q or similarToObjectId the results are
    scored, best first, each with `_score`; a search looks through the whole collection
    (recursive) unless path or recursive say otherwise."""
    query = browsing.parse_query(params)
    scored.check_model(settings, params.similar_to_object_model)
    if query.scored:
        return scored.browse_scored(db, principal, settings, dataset_id, query, urls)
    # Plain browse answers its JSON as bytes, built without models (media/views.py).
    return Response(browsing.browse(db, principal, dataset_id, query, urls),
                    media_type="application/json")


@router.get("/media/{media_id}", response_model=MediaEnvelope)
def get_media(media_id: Id, db: Db, principal: Viewer, urls: Urls) -> MediaEnvelope:
    return MediaEnvelope(media=service.get_media(db, principal, media_id, urls))


@router.patch("/media/{media_id}", response_model=MediaEnvelope)
def update_media(media_id: Id, body: ItemUpdate, db: Db, principal: Member,
                 urls: Urls) -> MediaEnvelope:
    changes = body.model_dump(exclude_unset=True)
    return MediaEnvelope(media=service.update_media(db, principal, media_id, changes, urls))


@router.delete("/media/{media_id}", response_model=Deleted)
def delete_media(media_id: Id, db: Db, principal: Member, permanent: Annotated[bool, Query(
        description="true: an admin's delete that skips the trash (the item, even one "
                    "already in the trash, is purged now, rows and blobs)")] = False) -> Deleted:
    """Move the item (a folder with its contents) to the trash; it is purged after
    COREVIZ_TRASH_DAYS, or at once with permanent=true (admins only)."""
    if permanent:
        return trash.delete_permanently(db, principal, media_id)
    return service.delete_media(db, principal, media_id)


@router.get("/dataset/{dataset_id}/trash", response_model=BrowseOut)
def list_trash(dataset_id: Id, params: Annotated[trash.TrashParams, Query()], db: Db,
               principal: Viewer, urls: Urls) -> BrowseOut:
    """The collection's trash, most recently deleted first: what a delete named (a folder
    stands for what was deleted with it), in browse's answer shape."""
    return trash.list_trash(db, principal, dataset_id, params, urls)


@router.post("/media/{media_id}/restore", response_model=Restored)
def restore_media(media_id: Id, db: Db, principal: Member) -> Restored:
    """Bring an item of the trash back (a folder with what was deleted with it), to its place,
    or to the collection's root when that folder is gone."""
    return trash.restore(db, principal, media_id)


@router.patch("/media/{media_id}/move", response_model=Moved)
def move_media(media_id: Id, body: MoveBody, db: Db, principal: Member) -> Moved:
    return service.move_media(db, principal, media_id, body.destination_path)


@router.get("/media/{media_id}/versions", response_model=VersionsOut)
def list_versions(media_id: Id, db: Db, principal: Viewer, urls: Urls) -> VersionsOut:
    return VersionsOut(versions=service.list_versions(db, principal, media_id, urls))


# {media_id}: the same path as GET, so that both are one resource in the OpenAPI document.
@router.delete("/media/{media_id}/versions", response_model=DeletedVersion)
def delete_version(media_id: Id, db: Db, principal: Member,
                   versionId: Id) -> DeletedVersion:
    """`media_id` names the version group (any of its versions, the root usually)."""
    return service.delete_version(db, principal, media_id, versionId)


@router.patch("/media/{version_id}/select-version", response_model=MediaEnvelope)
def select_version(version_id: Id, db: Db, principal: Member,
                   urls: Urls) -> MediaEnvelope:
    return MediaEnvelope(media=service.select_version(db, principal, version_id, urls))
