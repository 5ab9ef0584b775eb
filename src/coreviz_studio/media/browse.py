"""Browse a collection (`GET /api/dataset/{id}/media`): filters, sorting and exact pagination.

One page costs a fixed number of queries whatever its size: the page, the total, and the three
of `views.frames_of`.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, exists, false, func, or_, select, true
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.orm import Session

from coreviz_studio.auth.principal import Principal
from coreviz_studio.datasets.service import get_dataset
from coreviz_studio.db.tables import MEDIA_TYPES, DetectedObject, Media
from coreviz_studio.errors import BadRequest
from coreviz_studio.ids import parse_id
from coreviz_studio.media import tree
from coreviz_studio.media.schemas import BrowseOut, Pagination
from coreviz_studio.media.views import media_list
from coreviz_studio.storage.urls import BlobUrls
from coreviz_studio.tenancy import scoped

MAX_LIMIT = 1000
MAX_QUERY = 1000
# faces / objects: that object's kind; image: whole frames like the object's frame.
SIMILAR_MODELS = ("objects", "faces", "image")
MAX_OFFSET = 10_000_000
_SORTS = {"createdAt": "created_at", "updatedAt": "updated_at", "name": "name", "type": "type",
          "sizeBytes": "size_bytes"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no", ""}


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

    @property
    def scored(self) -> bool:
        return bool(self.q) or self.similar_to is not None


def _int(name: str, raw: str | None, default: int, low: int, high: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return value


def _day(name: str, raw: str) -> date:
    try:
        if not _DATE.match(raw):
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a date written YYYY-MM-DD") from None


def _tag_filters(raw: str) -> dict[str, list[str]]:
    try:
        value = json.loads(raw)
    except ValueError:
        raise BadRequest("tagFilters must be JSON, for example {\"Color\": [\"red\"]}") from None
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(x, str) for x in v)
            for k, v in value.items()):
        raise BadRequest("tagFilters must be an object of {label: [values]}")
    if "\x00" in raw:
        raise BadRequest("tagFilters cannot contain NUL characters")
    return value


def clean_query(raw: str | None) -> str | None:
    """A text query with its whitespace collapsed, or None when there is none. Longer queries
    are cut, not refused: the text model reads 256 word pieces anyway."""
    if raw and "\x00" in raw:
        raise BadRequest("q cannot contain NUL characters")
    query = " ".join((raw or "").split())
    return query[:MAX_QUERY] or None


def parse_query(params: dict[str, str]) -> BrowseQuery:
    """The browse parameters; a malformed or unknown value is a 400 that names it."""
    for name, value in params.items():
        if "\x00" in value:
            raise BadRequest(f"{name} cannot contain NUL characters")
    q = BrowseQuery()
    q.limit = _int("limit", params.get("limit"), 10, 0, MAX_LIMIT)
    q.offset = _int("offset", params.get("offset"), 0, 0, MAX_OFFSET)
    sort_by = params.get("sortBy") or "createdAt"
    if sort_by not in _SORTS:
        raise BadRequest(f"sortBy must be one of {', '.join(_SORTS)}")
    q.sort_by = sort_by
    direction = (params.get("sortDirection") or "asc").lower()
    if direction not in ("asc", "desc"):
        raise BadRequest("sortDirection must be asc or desc")
    q.descending = direction == "desc"
    q.path = params.get("path") or None
    recursive = (params.get("recursive") or "").lower()
    if recursive not in _TRUE | _FALSE:
        raise BadRequest("recursive must be true or false")
    q.recursive = recursive in _TRUE
    kind = params.get("type") or "all"
    if kind != "all" and kind not in MEDIA_TYPES:
        raise BadRequest(f"type must be one of {', '.join(MEDIA_TYPES)} or all")
    q.type = None if kind == "all" else kind
    if params.get("dateFrom"):
        q.date_from = datetime.combine(_day("dateFrom", params["dateFrom"]), time(), UTC)
    if params.get("dateTo"):
        q.date_to = datetime.combine(_day("dateTo", params["dateTo"]) + timedelta(days=1),
                                     time(), UTC)
    if q.date_from and q.date_to and q.date_from >= q.date_to:
        raise BadRequest("dateFrom must not be after dateTo")
    q.tags = [t.strip() for t in (params.get("tags") or "").split(",") if t.strip()]
    if params.get("tagFilters"):
        q.tag_filters = _tag_filters(params["tagFilters"])
    if params.get("mediaId"):
        q.media_id = parse_id(params["mediaId"], "mediaId")
        if not q.path:
            q.recursive = True  # the item is found wherever it sits in the collection
    if params.get("clusterId"):
        q.cluster_id = parse_id(params["clusterId"], "clusterId")
    q.q = clean_query(params.get("q"))
    if params.get("similarToObjectId"):
        q.similar_to = parse_id(params["similarToObjectId"], "similarToObjectId")
        model = params.get("similarToObjectModel") or None
        if model is not None and model not in SIMILAR_MODELS:
            raise BadRequest(f"similarToObjectModel must be one of {', '.join(SIMILAR_MODELS)}")
        q.similar_model = model
    elif params.get("similarToObjectModel"):
        raise BadRequest("similarToObjectModel needs similarToObjectId")
    if q.q and q.similar_to:
        raise BadRequest("give q or similarToObjectId, not both")
    if (q.scored or q.cluster_id) and not q.path and not params.get("recursive"):
        q.recursive = True  # a search looks through the whole collection unless told not to
    return q


def conditions(q: BrowseQuery, container: str) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [Media.status == "active", Media.is_active_version == true()]
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


def browse(session: Session, principal: Principal, dataset_id: str, q: BrowseQuery,
           urls: BlobUrls) -> BrowseOut:
    dataset = get_dataset(session, principal, dataset_id)
    container = tree.container(session, principal, dataset, q.path)
    where = conditions(q, container)
    base = scoped(Media, principal).where(Media.dataset_id == dataset.id, *where)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    column: Any = getattr(Media, _SORTS[q.sort_by])
    if q.sort_by == "name":
        column = func.lower(Media.name)
    order = [column.desc() if q.descending else column.asc(),
             Media.id.desc() if q.descending else Media.id.asc()]
    rows: list[Media] = []
    if q.limit and q.offset < total:
        rows = list(session.scalars(base.order_by(*order).limit(q.limit).offset(q.offset)))
    return BrowseOut(media=media_list(session, rows, urls),
                     pagination=Pagination(total=total, limit=q.limit, offset=q.offset,
                                           has_more=q.offset + len(rows) < total))
