"""Wire shapes of collections."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from coreviz_studio.schemas import CleanName, InputModel, NotNull, WireModel

CollectionName = Annotated[str, CleanName(200, "The collection's name")]
Icon = Annotated[str, Field(max_length=200)]


class DatasetCreate(InputModel):
    name: CollectionName
    icon: Icon | None = None


class DatasetUpdate(InputModel):
    # Left out: unchanged; null is refused (and not offered by the schema).
    name: Annotated[CollectionName | SkipJsonSchema[None], NotNull] = None
    icon: Icon | None = None  # null clears the icon


class DatasetOut(WireModel):
    id: uuid.UUID
    name: str
    icon: str | None
    type: str
    organization_id: uuid.UUID
    metadata: dict[str, Any] = Field(validation_alias="metadata_")
    status: str
    created_by_id: uuid.UUID | None
    updated_by_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class DatasetEnvelope(WireModel):
    dataset: DatasetOut


class DatasetCreated(DatasetOut):
    """The new collection, also under `dataset`: API.md returns the collection itself, and one
    build of the official SDK reads only `data.dataset`."""

    dataset: DatasetOut
