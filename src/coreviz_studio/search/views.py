"""Clusters on the wire."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from coreviz_studio.db.tables import Cluster, Frame
from coreviz_studio.search import clusters
from coreviz_studio.search.schemas import ClusterCover, ClusterOut
from coreviz_studio.storage.urls import BlobUrls


def cluster_out(session: Session, cluster: Cluster, urls: BlobUrls) -> ClusterOut:
    cover = clusters.cover(session, cluster)
    shown = None
    if cover is not None:
        frame = session.execute(select(Frame.thumbnail_key, Frame.width, Frame.height)
                                .where(Frame.id == cover.frame_id)).first()
        thumb, width, height = frame if frame is not None else (None, None, None)
        shown = ClusterCover(object_id=cover.id, media_id=cover.media_id,
                             frame_id=cover.frame_id,
                             bbox={"x": cover.bbox_x, "y": cover.bbox_y,
                                   "width": cover.bbox_width, "height": cover.bbox_height},
                             thumbnail_blob=urls.of(thumb), frame_width=width,
                             frame_height=height)
    return ClusterOut(id=cluster.id, kind=cluster.kind,
                      label=cover.label if cover is not None and cluster.kind == "object"
                      else ("face" if cluster.kind == "face" else None),
                      name=cluster.name, model=cluster.model,
                      member_count=cluster.member_count, cover=shown)
