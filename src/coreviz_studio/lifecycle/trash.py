"""The trash: what a delete put there, listed per collection, restored, or purged at once.

A trash entry is the item a DELETE named (with its versions), or the folder it named with
everything that was under it; `media.deleted_with` holds the entry's id on each of its rows.

Restore puts the entry back where it was. If that place is gone (its folder is in the trash
itself, or purged), the entry goes to the collection's root instead: restoring the folder too
would bring back its other contents, which someone may have trashed on purpose, and the root is
always there. The answer's `newPath` says where it went.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from coreviz_studio.auth.principal import Principal, Role
from coreviz_studio.datasets.service import get_dataset
from coreviz_studio.db.tables import Media
from coreviz_studio.errors import NotFound
from coreviz_studio.ids import IdRef, parse_id
from coreviz_studio.lifecycle.purge import enqueue_purge
from coreviz_studio.media import paths, service, tree
from coreviz_studio.media.browse import MAX_LIMIT, MAX_OFFSET
from coreviz_studio.media.schemas import BrowseOut, Deleted, Pagination, Restored
from coreviz_studio.media.views import media_list
from coreviz_studio.pipeline.queue import enqueue
from coreviz_studio.storage.urls import BlobUrls
from coreviz_studio.tenancy import scoped


class TrashParams(BaseModel):
    """The query parameters of the trash listing: browse's paging."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    limit: Annotated[int, Field(ge=0, le=MAX_LIMIT, description="Items per page")] = 10
    offset: Annotated[int, Field(ge=0, le=MAX_OFFSET, description="Items to skip")] = 0


def _entries(principal: Principal):  # type: ignore[no-untyped-def]
    """The trash's entries (not the rows deleted with them) of the caller's organization."""
    return scoped(Media, principal).where(Media.status == "deleted",
                                          Media.deleted_with == Media.id)


def list_trash(session: Session, principal: Principal, dataset_id: IdRef, params: TrashParams,
               urls: BlobUrls) -> BrowseOut:
    """A collection's trash, most recently deleted first, in browse's answer shape."""
    dataset = get_dataset(session, principal, dataset_id)
    base = _entries(principal).where(Media.dataset_id == dataset.id)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows: list[Media] = []
    if params.limit and params.offset < total:
        rows = list(session.scalars(base.order_by(Media.deleted_at.desc(), Media.id.desc())
                                    .limit(params.limit).offset(params.offset)))
    return BrowseOut(media=media_list(session, rows, urls),
                     pagination=Pagination(total=total, limit=params.limit,
                                           offset=params.offset,
                                           has_more=params.offset + len(rows) < total))


def _entry(session: Session, principal: Principal, media_id: IdRef) -> Media:
    """The trash entry, locked; its collection's tree lock is taken first, as moves and deletes
    take it (they change trashed rows' paths too), so that the two never wait for each other."""
    query = _entries(principal).where(Media.id == parse_id(media_id, "media"))
    found = session.scalars(query).one_or_none()
    if found is not None:
        tree.lock_tree(session, found.dataset_id, exclusive=True)
        found = session.scalars(query.with_for_update()
                                .execution_options(populate_existing=True)).one_or_none()
    if found is None:
        raise NotFound("Media not found in the trash")
    return found


_RESTORE_SQL = ("UPDATE media SET status = 'active', deleted_at = NULL, deleted_with = NULL,"
                " updated_at = now(), updated_by_id = :user{move}"
                " WHERE organization_id = :org AND deleted_with = :trash"
                " AND status = 'deleted'")
_RESTORE = {
    "stay": text(_RESTORE_SQL.format(move="")),
    # A folder, with what was deleted with it, moves to the root (as media/service.py moves).
    "folder": text(_RESTORE_SQL.format(
        move=", path = CASE WHEN path = CAST(:old AS ltree) THEN CAST(:new AS ltree)"
             " ELSE CAST(:new AS ltree) || subpath(path, nlevel(CAST(:old AS ltree))) END")),
    # An item's versions sit beside it, each under its own id.
    "item": text(_RESTORE_SQL.format(
        move=", path = CAST(:place AS ltree) || text2ltree(replace(id::text, '-', ''))")),
}


def restore(session: Session, principal: Principal, media_id: IdRef) -> Restored:
    """Bring a trash entry back, to its place or (that place gone) to the collection's root."""
    row = _entry(session, principal, media_id)
    dataset = get_dataset(session, principal, str(row.dataset_id))
    old = row.path
    try:
        place = tree.container(session, principal, dataset, paths.parent(old))
    except NotFound:
        place = paths.root(dataset.id)
    new = paths.child(place, row.id)
    params = {"trash": row.id, "old": old, "new": new, "place": place,
              "user": principal.user_id, "org": principal.organization_id}
    # Processing skips trashed items: those whose job ran meanwhile are queued again.
    unprocessed = [m for m in session.scalars(scoped(Media, principal).where(
        Media.deleted_with == row.id, Media.type != "folder"))
        if m.metadata_.get("processing", {}).get("status") in ("queued", "processing")]
    how = "stay" if new == old else "folder" if row.type == "folder" else "item"
    result = session.execute(_RESTORE[how], params)
    for media in unprocessed:
        session.refresh(media)
        enqueue(session, media, reason="restore", by=principal.credential_id)
    return Restored(id=row.id, new_path=new,
                    restored_count=int(result.rowcount or 0))  # type: ignore[attr-defined]


def delete_permanently(session: Session, principal: Principal, media_id: IdRef) -> Deleted:
    """An admin's delete that does not wait for the trash: the item (active or already in the
    trash) is trashed now, so it is gone at once, and its purge is queued."""
    principal.require(Role.admin)
    try:
        deleted = service.delete_media(session, principal, media_id)
        trash_id = deleted.id
    except NotFound:
        row = _entry(session, principal, media_id)
        trash_id = row.id
        count = session.scalar(select(func.count()).where(
            Media.organization_id == principal.organization_id, Media.deleted_with == row.id))
        deleted = Deleted(id=row.id, deleted_count=count or 0)
    enqueue_purge(session, principal.organization_id, trash_id)
    return deleted



