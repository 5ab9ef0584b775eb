"""HTTP for organization-wide search and for clusters."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from coreviz_studio.deps import Config, Db, Member, Urls, Viewer
from coreviz_studio.ids import Id
from coreviz_studio.media import browse
from coreviz_studio.media.schemas import BrowseOut, Pagination
from coreviz_studio.media.views import media_list
from coreviz_studio.search import clusters, scored
from coreviz_studio.search.schemas import (
    ClusterEnvelope,
    ClusterList,
    ClusterUpdate,
    SearchOut,
)
from coreviz_studio.search.views import cluster_out

router = APIRouter(prefix="/api", tags=["search"])


@router.get("/search", response_model=SearchOut)
def search(db: Db, principal: Viewer, settings: Config, urls: Urls,
           q: Annotated[str, Query(max_length=browse.MAX_QUERY_PARAM)] = "",
           organizationId: Id | None = None,
           limit: Annotated[int, Query(ge=1, le=scored.MAX_SEARCH_LIMIT)] = 20,
           similarToObjectId: Annotated[Id | None, Query(
               description="Media of every collection whose objects look like this object, "
                           "best first; q is ignored when this is given")] = None,
           similarToObjectModel: Annotated[str | None, Query(
               max_length=200, json_schema_extra={"enum": list(browse.SIMILAR_MODELS)},
               description="What to compare with similarToObjectId: the objects of its "
                           "kind, faces, or whole frames; another name is a 422 that lists "
                           "this server's models")] = None) -> SearchOut:
    """Search every collection of your organization: best first, `rank` is the score."""
    return scored.search(db, principal, settings, q, organizationId, limit, urls,
                         similarToObjectId, similarToObjectModel)


@router.get("/clusters", response_model=ClusterList)
def list_clusters(db: Db, principal: Viewer, urls: Urls,
                  kind: Literal["face", "object"] | None = None,
                  datasetId: Id | None = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50,
                  offset: Annotated[int, Query(ge=0, le=browse.MAX_OFFSET)] = 0) -> ClusterList:
    """Clusters of faces (people) and objects, biggest first; `datasetId` keeps those with a
    member in that collection."""
    rows, total = clusters.list_clusters(db, principal, kind, datasetId, limit, offset)
    return ClusterList(clusters=[cluster_out(db, c, urls) for c in rows],
                       pagination={"total": total, "limit": limit, "offset": offset,
                                   "hasMore": offset + len(rows) < total})


@router.get("/clusters/{cluster_id}", response_model=ClusterEnvelope)
def get_cluster(cluster_id: Id, db: Db, principal: Viewer,
                urls: Urls) -> ClusterEnvelope:
    return ClusterEnvelope(cluster=cluster_out(db, clusters.get_cluster(db, principal,
                                                                        cluster_id), urls))


@router.get("/clusters/{cluster_id}/media", response_model=BrowseOut)
def list_cluster_media(cluster_id: Id, db: Db, principal: Viewer, urls: Urls,
                       limit: Annotated[int, Query(ge=0, le=browse.MAX_LIMIT)] = 50,
                       offset: Annotated[int, Query(ge=0, le=browse.MAX_OFFSET)] = 0
                       ) -> BrowseOut:
    """The media of a cluster (a person's photos, a kind of thing's) in every collection the
    caller sees, newest first, in browse's shape."""
    rows, total = clusters.cluster_media(db, principal, cluster_id, limit, offset)
    return BrowseOut(media=media_list(db, rows, urls),
                     pagination=Pagination(total=total, limit=limit, offset=offset,
                                           has_more=offset + len(rows) < total))


@router.patch("/clusters/{cluster_id}", response_model=ClusterEnvelope)
def name_cluster(cluster_id: Id, body: ClusterUpdate, db: Db, principal: Member,
                 urls: Urls) -> ClusterEnvelope:
    """Name a cluster (a person's name on a face cluster): its media become findable by it."""
    cluster = clusters.rename(db, principal, cluster_id, body.name)
    return ClusterEnvelope(cluster=cluster_out(db, cluster, urls))
