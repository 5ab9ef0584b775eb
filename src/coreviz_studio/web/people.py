"""What the people and things pages show: face clusters as people, object clusters as things
(the clusters API's answers), and one cluster's media across the organization."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from coreviz_studio.auth.principal import Principal
from coreviz_studio.db.tables import Dataset, DetectedObject, Media, visible_media
from coreviz_studio.media.views import media_out
from coreviz_studio.search import clusters
from coreviz_studio.search.schemas import ClusterOut
from coreviz_studio.search.views import cluster_out
from coreviz_studio.storage.urls import BlobUrls
from coreviz_studio.tenancy import scoped

PAGE = 60  # clusters, or a cluster's items, per page
KINDS = {"face": ("People", "/people"), "object": ("Things", "/things")}


@dataclass(frozen=True)
class Card:
    id: str
    kind: str
    title: str  # the name, else what it is ("Unnamed person", "cat")
    name: str | None
    label: str | None
    count: int
    picture: str | None  # the cover frame's thumbnail URL
    crop: str | None  # "x,y,width,height,frameWidth,frameHeight": the script crops to it


@dataclass(frozen=True)
class Item:
    id: str
    name: str
    type: str
    thumbnail: str | None
    collection: str


def _card(cluster: ClusterOut) -> Card:
    cover = cluster.cover
    crop = None
    if cover is not None and cover.frame_width and cover.frame_height:
        box = cover.bbox
        crop = ",".join(str(round(float(v), 2)) for v in (
            box["x"], box["y"], box["width"], box["height"], cover.frame_width,
            cover.frame_height))
    unnamed = "Unnamed person" if cluster.kind == "face" else (cluster.label or "Unnamed thing")
    return Card(str(cluster.id), cluster.kind, cluster.name or unnamed, cluster.name,
                cluster.label, cluster.member_count,
                cover.thumbnail_blob if cover is not None else None, crop)


def cards(session: Session, principal: Principal, urls: BlobUrls, kind: str,
          offset: int) -> tuple[list[Card], int]:
    rows, total = clusters.list_clusters(session, principal, kind, None, PAGE, offset)
    return [_card(cluster_out(session, c, urls)) for c in rows], total


def card(session: Session, principal: Principal, urls: BlobUrls, cluster_id: str) -> Card:
    return _card(cluster_out(session, clusters.get_cluster(session, principal, cluster_id),
                             urls))


def items(session: Session, principal: Principal, urls: BlobUrls, cluster_id: str,
          offset: int) -> tuple[list[Item], int, list[tuple[str, str, int]]]:
    """A page of the cluster's media (newest first), how many in all, and the collections
    they are in: (id, name, how many)."""
    rows, total = clusters.cluster_media(session, principal, cluster_id, PAGE, offset)
    cluster = clusters.get_cluster(session, principal, cluster_id)
    per_dataset = session.execute(
        select(Dataset.id, Dataset.name, func.count(Media.id))
        .join(Media, Media.dataset_id == Dataset.id)
        .where(Media.id.in_(scoped(Media, principal).where(
            *visible_media(),
            exists().where(DetectedObject.media_id == Media.id,
                           DetectedObject.cluster_id == cluster.id)).with_only_columns(Media.id)))
        .group_by(Dataset.id, Dataset.name).order_by(Dataset.name)).all()
    names = {d: n for d, n, _ in per_dataset}
    shown = []
    for row in rows:
        out = media_out(row, [], urls)
        shown.append(Item(str(row.id), row.name, row.type, out.thumbnail,
                          names.get(row.dataset_id, "")))
    return shown, total, [(str(d), n, c) for d, n, c in per_dataset]
