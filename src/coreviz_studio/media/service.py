"""Media items: get, rename and update metadata, soft delete, move, versions.

A media item with versions is a group of rows sharing `root_id` (the original's id; an original
is its own root). Exactly one row of a group is the active version; browse shows only that one.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from coreviz_studio.auth.principal import Principal
from coreviz_studio.datasets.service import get_dataset
from coreviz_studio.db.tables import Media, sql
from coreviz_studio.errors import Invalid, NotFound
from coreviz_studio.ids import IdRef, parse_id
from coreviz_studio.media import paths, tree
from coreviz_studio.media.schemas import Deleted, DeletedVersion, MediaOut, Moved
from coreviz_studio.media.views import media_list
from coreviz_studio.search import document
from coreviz_studio.storage.urls import BlobUrls
from coreviz_studio.tags.rules import check_tags
from coreviz_studio.tenancy import scoped

# Written only by the server (processing and moderation); a client's PATCH may not touch them.
SERVER_OWNED_METADATA = ("processing", "moderation")
MAX_METADATA_BYTES = 64 * 1024


def get_row(session: Session, principal: Principal, media_id: IdRef, *, folder: bool = False,
            lock: bool = False) -> Media:
    """An active media row of the caller's organization (a folder when `folder`), else 404."""
    not_found = "Folder not found" if folder else "Media not found"
    stmt = scoped(Media, principal).where(Media.id == parse_id(media_id, "media"),
                                          Media.status == "active")
    if folder:
        stmt = stmt.where(Media.type == "folder")
    if lock:
        stmt = stmt.with_for_update()
    row = session.scalars(stmt).one_or_none()
    if row is None:
        raise NotFound(not_found)
    return row


def to_wire(session: Session, row: Media, urls: BlobUrls) -> MediaOut:
    return media_list(session, [row], urls)[0]


def get_media(session: Session, principal: Principal, media_id: IdRef,
              urls: BlobUrls) -> MediaOut:
    return to_wire(session, get_row(session, principal, media_id), urls)


def merged_metadata(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """`patch` merged into `current`: keys replace, null removes. Server-owned keys are 422."""
    owned = [key for key in patch if key in SERVER_OWNED_METADATA]
    if owned:
        raise Invalid(f"metadata.{owned[0]} is set by the server and cannot be written")
    if "tags" in patch and patch["tags"] is not None:
        check_tags(patch["tags"])
    result = dict(current)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    if len(json.dumps(result)) > MAX_METADATA_BYTES:
        raise Invalid(f"metadata would exceed {MAX_METADATA_BYTES // 1024} KiB")
    return result


def update_row(session: Session, principal: Principal, media_id: IdRef, changes: dict[str, Any],
               *, folder: bool = False) -> Media:
    row = get_row(session, principal, media_id, folder=folder, lock=True)
    if "name" in changes:
        row.name = changes["name"]
    if changes.get("metadata") is not None:
        row.metadata_ = merged_metadata(row.metadata_, changes["metadata"])
    if changes:
        row.updated_by_id = principal.user_id
        document.refresh(session, [row.id])  # the name and tags are searchable
        session.refresh(row)
    return row


def update_media(session: Session, principal: Principal, media_id: IdRef,
                 changes: dict[str, Any], urls: BlobUrls) -> MediaOut:
    return to_wire(session, update_row(session, principal, media_id, changes), urls)


def _soft_delete(session: Session, principal: Principal, trash_id: uuid.UUID,
                 *conditions: Any) -> int:
    """Move the active rows matching `conditions` into the trash entry `trash_id`."""
    result = session.execute(
        update(Media).where(Media.organization_id == principal.organization_id,
                            Media.status == "active", *conditions)
        .values(status="deleted", deleted_at=func.now(), deleted_with=trash_id,
                updated_at=func.now(), updated_by_id=principal.user_id)
        .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def delete_media(session: Session, principal: Principal, media_id: IdRef, *,
                 folder: bool = False) -> Deleted:
    """Soft delete into the trash (lifecycle/trash.py restores, lifecycle/purge.py purges): a
    folder takes everything under it; a media item all its versions."""
    row = get_row(session, principal, media_id, folder=folder)
    if row.type == "folder":
        tree.lock_tree(session, row.dataset_id, exclusive=True)
        session.refresh(row)
        count = _soft_delete(session, principal, row.id, Media.dataset_id == row.dataset_id,
                             Media.path.op("<@")(row.path))
    else:
        count = _soft_delete(session, principal, row.id, Media.root_id == row.root_id)
    return Deleted(id=row.id, deleted_count=count)


def move_media(session: Session, principal: Principal, media_id: IdRef,
               destination: str) -> Moved:
    """Move an item (with its versions) or a folder (with everything under it) into the folder
    or collection root at `destination`, in one statement."""
    row = get_row(session, principal, media_id)
    tree.lock_tree(session, row.dataset_id, exclusive=True)
    session.refresh(row)
    if row.status != "active":
        raise NotFound("Media not found")
    dataset = get_dataset(session, principal, str(row.dataset_id))
    target = tree.container(session, principal, dataset, destination)
    old = row.path
    if paths.parent(old) == target:
        return Moved(id=row.id, new_path=old, moved_count=0)
    new = paths.child(target, row.id)
    if row.type == "folder":
        if target == old or target.startswith(old + "."):
            raise Invalid("A folder cannot be moved into itself or one of its subfolders")
        deepest = session.scalar(select(func.max(func.nlevel(Media.path)))
                                 .where(Media.dataset_id == row.dataset_id,
                                        Media.path.op("<@")(old)))
        if (deepest or 0) - paths.depth(old) + paths.depth(new) > paths.MAX_DEPTH:
            raise Invalid(f"The move would nest folders deeper than {paths.MAX_DEPTH} levels")
        result = session.execute(sql(
            "UPDATE media SET path = CASE WHEN path = CAST(:old AS ltree) THEN CAST(:new AS ltree)"
            " ELSE CAST(:new AS ltree) || subpath(path, nlevel(CAST(:old AS ltree))) END,"
            " updated_at = now(), updated_by_id = :user"
            " WHERE organization_id = :org AND dataset_id = :dataset"
            " AND path <@ CAST(:old AS ltree)"),
            {"old": old, "new": new, "user": principal.user_id,
             "org": principal.organization_id, "dataset": row.dataset_id})
    else:
        # Every version sits beside the others, each under its own id.
        result = session.execute(sql(
            "UPDATE media SET path = CAST(:target AS ltree)"
            " || text2ltree(replace(id::text, '-', '')),"
            " updated_at = now(), updated_by_id = :user"
            " WHERE organization_id = :org AND root_id = :root"),
            {"target": target, "user": principal.user_id, "org": principal.organization_id,
             "root": row.root_id})
    return Moved(id=row.id, new_path=new, moved_count=int(result.rowcount or 0))  # type: ignore[attr-defined]


# --- versions ---------------------------------------------------------------------------------


def _group(session: Session, principal: Principal, root_id: uuid.UUID | None) -> list[Media]:
    return list(session.scalars(
        scoped(Media, principal).where(Media.root_id == root_id, Media.status == "active")
        .order_by(Media.version_number, Media.created_at)))


def list_versions(session: Session, principal: Principal, media_id: IdRef,
                  urls: BlobUrls) -> list[MediaOut]:
    row = get_row(session, principal, media_id)
    return media_list(session, _group(session, principal, row.root_id), urls)


def make_active(session: Session, principal: Principal, chosen: Media) -> None:
    """Make `chosen` the active version of its group (the old flag is cleared first: one
    active version per group is a unique index)."""
    for other in _group(session, principal, chosen.root_id):
        if other.id != chosen.id and other.is_active_version:
            other.is_active_version = False
    session.flush()
    chosen.is_active_version = True
    session.flush()


def select_version(session: Session, principal: Principal, version_id: IdRef,
                   urls: BlobUrls) -> MediaOut:
    row = get_row(session, principal, version_id, lock=True)
    if row.type == "folder":
        raise Invalid("Folders have no versions")
    make_active(session, principal, row)
    row.updated_by_id = principal.user_id
    session.flush()
    session.refresh(row)
    return to_wire(session, row, urls)


def delete_version(session: Session, principal: Principal, root_id: IdRef,
                   version_id: IdRef | None) -> DeletedVersion:
    """Delete one version; when it was the active one, the newest remaining one takes over."""
    if not version_id:
        raise Invalid("versionId is required (the version to delete)")
    # The anchor may itself be a deleted version: it still names the group.
    anchor = session.scalars(scoped(Media, principal).where(
        Media.id == parse_id(root_id, "media"))).one_or_none()
    version = get_row(session, principal, version_id, lock=True)
    if anchor is None or version.root_id != anchor.root_id:
        raise NotFound("Version not found")
    was_active = version.is_active_version
    version.is_active_version = False
    version.status = "deleted"
    version.deleted_at = datetime.now(UTC)
    version.updated_by_id = principal.user_id
    session.flush()
    promoted = None
    if was_active:
        rest = _group(session, principal, version.root_id)
        if rest:
            promoted = rest[-1]
            make_active(session, principal, promoted)
    return DeletedVersion(deleted_id=version.id, promoted_id=promoted.id if promoted else None)
