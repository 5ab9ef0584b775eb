"""Browse a collection (`GET /api/dataset/{id}/media`): filters, sorting and exact pagination.

One page costs a fixed number of queries whatever its size: the page, the total, and the three
of `views.frames_wire`.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel
from sqlalchemy import ColumnElement, exists, false, or_
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.orm import Session

from coreviz_studio.auth.principal import Principal
from coreviz_studio.datasets.service import get_dataset
from coreviz_studio.db.tables import DetectedObject, Media, visible_media
from coreviz_studio.errors import BadRequest
from coreviz_studio.ids import Id, IdRef
from coreviz_studio.media import offsets, paths, tree, views
from coreviz_studio.storage.urls import BlobUrls
from coreviz_studio.tenancy import scoped

MAX_LIMIT = 1000
MAX_QUERY = 1000
# The longest q accepted: its URL stays under the HTTP server's request-line limit (~80 KB)
# even in 4-byte characters, percent-encoded; what is read of it is MAX_QUERY characters.
MAX_QUERY_PARAM = 4000
# faces / objects: that object's kind; image: whole frames like the object's frame.
SimilarModel = Literal["objects", "faces", "image"]
SIMILAR_MODELS = get_args(SimilarModel)
# Any name is taken and checked when used (search/similar_models.py): one this server does not
# have is a 422 that lists those it has, not a bare validation error.
SimilarModelField = Field(
    max_length=200, json_schema_extra={"enum": list(SIMILAR_MODELS)},
    description="What to compare with similarToObjectId: the objects of its kind, faces, or "
                "whole frames; another name is a 422 that lists this server's models")
MAX_OFFSET = 10_000_000
_SORTS = {"createdAt": "created_at", "updatedAt": "updated_at", "name": "name", "type": "type",
          "sizeBytes": "size_bytes"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class BrowseQuery:
    limit: int = 10
    offset: int = 0
    sort_by: str = "createdAt"
    descending: bool = False
    path: str | None = None
    recursive: bool = False
    type: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None  # exclusive: the day after dateTo
    tags: list[str] = field(default_factory=list)
    tag_filters: dict[str, list[str]] = field(default_factory=dict)
    media_id: uuid.UUID | None = None
    cluster_id: uuid.UUID | None = None
    q: str | None = None  # a text query: scored mode (search/scored.py)
    similar_to: uuid.UUID | None = None  # an object id: scored mode
    similar_model: str | None = None
    empty: bool = False  # dateFrom after dateTo: a range nothing falls in

    @property
    def scored(self) -> bool:
        return bool(self.q) or self.similar_to is not None


def _day(raw: Any) -> Any:
    # Only YYYY-MM-DD: pydantic's date alone also takes timestamps and other spellings.
    if isinstance(raw, str) and not _DATE.match(raw):
        raise ValueError("must be a date written YYYY-MM-DD")
    return raw


def _tag_filters(raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested past the C stack
        raise ValueError("must be JSON, for example {\"Color\": [\"red\"]}") from None
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(x, str) for x in v)
            for k, v in value.items()):
        raise ValueError("must be an object of {label: [values]}")
    return value


def clean_query(raw: str | None) -> str | None:
    """A text query with its whitespace collapsed, or None when there is none. Longer queries
    are cut, not refused: the text model reads 256 word pieces anyway."""
    if raw and "\x00" in raw:
        raise BadRequest("q cannot contain NUL characters")
    query = " ".join((raw or "").split())
    return query[:MAX_QUERY] or None


Day = Annotated[date, BeforeValidator(_day)]
Ref = Annotated[Id | None, Field(description="A UUID, with or without hyphens")]


class BrowseParams(BaseModel):
    """The query parameters of browse (API.md), where their rules live: FastAPI validates them
    (a bad value is a 400 naming it) and documents them in OpenAPI from this model."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    limit: Annotated[int, Field(ge=0, le=MAX_LIMIT, description="Items per page")] = 10
    offset: Annotated[int, Field(ge=0, le=MAX_OFFSET, description="Items to skip")] = 0
    sort_by: Annotated[Literal["createdAt", "updatedAt", "name", "type", "sizeBytes"],
                       Field(description="The order (ties: by id)")] = "createdAt"
    sort_direction: Annotated[Literal["asc", "desc"], Field(description="Ascending or "
                                                            "descending")] = "asc"
    path: Annotated[str | None, Field(
        pattern=paths.QUERY_PATTERN,
        description="List the children of this folder path (ids joined by dots, as browse "
                    "returns them); default: the collection's root")] = None
    recursive: Annotated[Literal["true", "false"] | None, Field(
        description="true: every descendant, flattened (the default for q, "
                    "similarToObjectId, clusterId and mediaId without a path)")] = None
    type: Annotated[Literal["image", "video", "pdf", "folder", "all"],
                    Field(description="Only items of this type")] = "all"
    date_from: Annotated[Day | None, Field(description="Created on or after this day (UTC)")] \
        = None
    date_to: Annotated[Day | None, Field(description="Created on or before this day (UTC)")] \
        = None
    tags: Annotated[list[str], Field(
        description="Tag labels the item must carry: comma-separated, or repeated")] = []
    tag_filters: Annotated[dict[str, list[str]] | None, BeforeValidator(_tag_filters), Field(
        description='JSON {label: [values]}: the item carries one of the values of every '
                    'label, e.g. {"Color": ["red", "blue"]}')] = None
    media_id: Ref = None
    cluster_id: Ref = None
    q: Annotated[str | None, Field(
        max_length=MAX_QUERY_PARAM,
        description=f"A text query: scored results, best first, each with _score (read up to "
                    f"{MAX_QUERY} characters)")] = None
    similar_to_object_id: Annotated[Id | None, Field(
        description="Media whose objects look like this object, best first; q is ignored "
                    "when this is given")] = None
    similar_to_object_model: Annotated[str | None, SimilarModelField] = None

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        for name, value in (data.items() if isinstance(data, dict) else ()):
            values = value if isinstance(value, list) else [value]
            if any(isinstance(v, str) and "\x00" in v for v in values):
                raise ValueError(f"{name} cannot contain NUL characters")
        return data


def _day_after(day: date) -> datetime | None:
    """The exclusive end of a range that ends on `day`; none after the last representable day."""
    return None if day == date.max else datetime.combine(day + timedelta(days=1), time(), UTC)


def parse_query(params: BrowseParams) -> BrowseQuery:
    """The browse query the parameters ask for (each value is already checked)."""
    q = BrowseQuery(limit=params.limit, offset=params.offset, sort_by=params.sort_by,
                    descending=params.sort_direction == "desc", path=params.path or None,
                    recursive=params.recursive == "true",
                    type=None if params.type == "all" else params.type,
                    tags=[t.strip() for raw in params.tags for t in raw.split(",") if t.strip()],
                    tag_filters=params.tag_filters or {}, media_id=params.media_id,
                    cluster_id=params.cluster_id, similar_to=params.similar_to_object_id)
    if params.date_from:
        q.date_from = datetime.combine(params.date_from, time(), UTC)
    if params.date_to:
        q.date_to = _day_after(params.date_to)
        q.empty = q.date_from is not None and q.date_to is not None and q.date_from >= q.date_to
    if q.similar_to is not None:
        q.similar_model = params.similar_to_object_model
    else:
        q.q = clean_query(params.q)
    if q.media_id and not q.path:
        q.recursive = True  # the item is found wherever it sits in the collection
    if (q.scored or q.cluster_id) and not q.path and params.recursive is None:
        q.recursive = True  # a search looks through the whole collection unless told not to
    return q


def conditions(q: BrowseQuery, container: str) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = visible_media()
    if q.recursive:
        where += [Media.path.op("<@")(container), Media.path != container]
    else:
        # Children only: their parent path (all labels but the last) is the container.
        where.append(tree.parent_path() == container)
    if q.type:
        where.append(Media.type == q.type)
    if q.date_from:
        where.append(Media.created_at >= q.date_from)
    if q.date_to:
        where.append(Media.created_at < q.date_to)
    if q.empty:
        where.append(false())
    tags: Any = Media.metadata_["tags"]
    for label in q.tags:
        where.append(tags.has_key(label))
    for label, values in q.tag_filters.items():
        where.append(tags[label].has_any(array(values)) if values else false())
    if q.media_id:
        where.append(or_(Media.id == q.media_id, Media.root_id == q.media_id))
    if q.cluster_id:
        where.append(exists().where(DetectedObject.media_id == Media.id,
                                    DetectedObject.cluster_id == q.cluster_id))
    return where


def browse(session: Session, principal: Principal, dataset_id: IdRef, q: BrowseQuery,
           urls: BlobUrls) -> bytes:
    """The page as JSON bytes (BrowseOut's shape): built from plain rows and dicts, without
    models (media/views.py)."""
    dataset = get_dataset(session, principal, dataset_id)
    container = tree.container(session, principal, dataset, q.path)
    where = conditions(q, container)
    base = (scoped(Media, principal).with_only_columns(*views.MEDIA_COLUMNS)
            .where(Media.dataset_id == dataset.id, *where))
    column: Any = getattr(Media, _SORTS[q.sort_by])
    if q.sort_by == "name":
        column = Media.name_key  # lower(name), stored (migration 0013)
    order = offsets.Order((column, Media.id), q.descending)
    total, rows = offsets.page(session, dataset.id, base, order, q.limit, q.offset,
                               _listing(dataset.id, container, q))
    return views.page_json(views.wire_list(session, rows, urls), total, q.limit, q.offset)


def _listing(dataset_id: uuid.UUID, container: str, q: BrowseQuery) -> Hashable | None:
    """What a listing selects, as a key for its offset marks (media/offsets.py): None when it
    depends on more than the collection's media rows (a cluster's members are objects), or
    when its sort key can be NULL (sizeBytes: a keyset cannot start from a NULL)."""
    if q.cluster_id is not None or q.empty or q.sort_by == "sizeBytes":
        return None
    return (dataset_id, container, q.recursive, q.type, q.date_from, q.date_to,
            tuple(q.tags), tuple(sorted((k, tuple(v)) for k, v in q.tag_filters.items())),
            q.media_id, q.sort_by, q.descending)
