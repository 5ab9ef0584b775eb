"""HTTP for folders."""

from __future__ import annotations

from fastapi import APIRouter, status

from coreviz_studio.deps import Db, Member, Viewer
from coreviz_studio.folders import service
from coreviz_studio.folders.schemas import FolderCreate, FolderEnvelope
from coreviz_studio.ids import Id
from coreviz_studio.media.schemas import Deleted, ItemUpdate

router = APIRouter(prefix="/api", tags=["folders"])


@router.post("/folder", response_model=FolderEnvelope, status_code=status.HTTP_201_CREATED)
def create_folder(body: FolderCreate, db: Db, principal: Member) -> FolderEnvelope:
    return FolderEnvelope(folder=service.create_folder(db, principal, body))


@router.get("/folder/{folder_id}", response_model=FolderEnvelope)
def get_folder(folder_id: Id, db: Db, principal: Viewer) -> FolderEnvelope:
    return FolderEnvelope(folder=service.get_folder(db, principal, folder_id))


@router.patch("/folder/{folder_id}", response_model=FolderEnvelope)
def update_folder(folder_id: Id, body: ItemUpdate, db: Db,
                  principal: Member) -> FolderEnvelope:
    changes = body.model_dump(exclude_unset=True)
    return FolderEnvelope(folder=service.update_folder(db, principal, folder_id, changes))


@router.delete("/folder/{folder_id}", response_model=Deleted)
def delete_folder(folder_id: Id, db: Db, principal: Member) -> Deleted:
    return service.delete_folder(db, principal, folder_id)
