"""Wire shapes of folders."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StrictBool

from coreviz_studio import ids
from coreviz_studio.media import paths
from coreviz_studio.schemas import CleanName, InputModel, WireModel

FolderName = Annotated[str, CleanName(1024, "The folder's name")]


class FolderCreate(InputModel):
    dataset_id: ids.BodyId
    name: FolderName
    path: Annotated[str, Field(max_length=4096,
                               json_schema_extra={"pattern": paths.QUERY_PATTERN})] | None = None
    reuse: StrictBool = False


class FolderOut(WireModel):
    id: uuid.UUID
    name: str
    type: str = "folder"
    # The path the folder's children are listed under, uploaded into and moved to.
    path: str
    parent_path: str
    collection_id: uuid.UUID
    dataset_id: uuid.UUID
    metadata: dict[str, Any]
    status: str
    created_by_id: uuid.UUID | None
    updated_by_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class FolderEnvelope(WireModel):
    folder: FolderOut
