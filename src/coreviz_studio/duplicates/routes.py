"""HTTP for duplicates; the rules live in the service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from coreviz_studio.deps import Db, Viewer
from coreviz_studio.duplicates import service
from coreviz_studio.duplicates.schemas import DuplicatesOut, DuplicatesParams
from coreviz_studio.ids import Id

router = APIRouter(prefix="/api", tags=["media"])


@router.get("/dataset/{dataset_id}/duplicates", response_model=DuplicatesOut)
def duplicates(dataset_id: Id, params: Annotated[DuplicatesParams, Query()], db: Db,
               principal: Viewer) -> DuplicatesOut:
    """Groups of items that are the same file (sha256) or look the same (a perceptual hash,
    confirmed by the image embedding where there is one), the largest group first; see
    docs/duplicates.md. Items not yet processed have no hash and take part only as exact
    duplicates."""
    return service.duplicate_groups(db, principal, dataset_id, params)
