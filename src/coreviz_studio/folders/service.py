"""Folders are `type=folder` rows of the media table; their path is where their children live."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from coreviz_studio.auth.principal import Principal
from coreviz_studio.datasets.service import get_dataset
from coreviz_studio.db.tables import Media
from coreviz_studio.folders.schemas import FolderCreate, FolderOut
from coreviz_studio.ids import IdRef
from coreviz_studio.media import paths, service, tree
from coreviz_studio.media.schemas import Deleted
from coreviz_studio.tenancy import scoped


def folder_out(row: Media) -> FolderOut:
    return FolderOut(id=row.id, name=row.name, path=row.path, parent_path=paths.parent(row.path),
                     collection_id=row.dataset_id, dataset_id=row.dataset_id,
                     metadata=row.metadata_, status=row.status, created_by_id=row.created_by_id,
                     updated_by_id=row.updated_by_id, created_at=row.created_at,
                     updated_at=row.updated_at)


def create_folder(session: Session, principal: Principal, body: FolderCreate) -> FolderOut:
    """A new folder at `path` (the collection root by default). With `reuse`, an existing
    folder of the same name there is returned instead."""
    dataset = get_dataset(session, principal, body.dataset_id)
    tree.lock_tree(session, dataset.id, exclusive=False)
    parent = tree.container(session, principal, dataset, body.path)
    folder_id = uuid.uuid4()
    new_path = paths.child(parent, folder_id)  # refuses too deep a folder
    if body.reuse:
        # Two reusing calls at once must agree on one folder.
        tree.lock(session, f"folder:{parent}:{body.name}")
        existing = session.scalars(
            scoped(Media, principal).where(
                Media.dataset_id == dataset.id, Media.type == "folder",
                Media.status == "active", Media.name == body.name,
                tree.parent_path() == parent)
            .order_by(Media.created_at, Media.id).limit(1)).first()
        if existing is not None:
            return folder_out(existing)
    row = Media(id=folder_id, organization_id=principal.organization_id, dataset_id=dataset.id,
                type="folder", name=body.name, path=new_path,
                root_id=folder_id, metadata_={}, exif={}, status="active",
                created_by_id=principal.user_id)
    session.add(row)
    session.flush()
    session.refresh(row)
    return folder_out(row)


def get_folder(session: Session, principal: Principal, folder_id: IdRef) -> FolderOut:
    return folder_out(service.get_row(session, principal, folder_id, folder=True))


def update_folder(session: Session, principal: Principal, folder_id: IdRef,
                  changes: dict[str, Any]) -> FolderOut:
    return folder_out(service.update_row(session, principal, folder_id, changes, folder=True))


def delete_folder(session: Session, principal: Principal, folder_id: IdRef) -> Deleted:
    return service.delete_media(session, principal, folder_id, folder=True)
