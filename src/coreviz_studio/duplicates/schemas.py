"""Wire shapes of GET /api/dataset/{id}/duplicates."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from coreviz_studio.media.schemas import Pagination
from coreviz_studio.schemas import WireModel

MAX_LIMIT = 100


class DuplicatesParams(BaseModel):
    """Paging of the groups; unknown parameters are refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT, description="Groups per page")] = 20
    offset: Annotated[int, Field(ge=0, le=1_000_000, description="Groups to skip")] = 0


class DuplicateGroup(WireModel):
    media_ids: list[uuid.UUID] = Field(description="The group's items, oldest first")
    similarity: float = Field(description="1.0 for identical files; otherwise the weakest "
                              "link's: the image embeddings' cosine where both items have one, "
                              "else 1 - (differing hash bits / 64)")
    kind: Literal["exact", "near"] = Field(description="exact: every item is the same file "
                                           "(sha256); near: they look alike")


class DuplicatesOut(WireModel):
    groups: list[DuplicateGroup]
    pagination: Pagination
