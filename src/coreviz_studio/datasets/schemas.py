"""Wire shapes of collections."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, field_validator

from coreviz_studio.schemas import InputModel, WireModel

Name = Annotated[str, Field(min_length=1, max_length=200)]
Icon = Annotated[str, Field(max_length=200)]


class DatasetCreate(InputModel):
    name: Name
    icon: Icon | None = None


class DatasetUpdate(InputModel):
    name: Name | None = None
    icon: Icon | None = None  # null clears the icon

    @field_validator("name", mode="before")
    @classmethod
    def _name_not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("name cannot be null; leave it out to keep the current name")
        return value


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
