"""Clusters of faces (people) and of objects, grown as media are processed.

Each new face or object with an embedding joins the cluster whose centroid is nearest, if it is
near enough, or starts a new one (online "leader" clustering: no batch job, no re-numbering).
Clusters belong to an organization, not a collection, so a person is the same cluster in every
collection. Objects cluster only with objects of the same label. A centroid is the normalized
mean of its members, so a cluster keeps its identity (and its name) when a media is reprocessed.
"""

from __future__ import annotations

import uuid

import numpy as np
from sqlalchemy import exists, func, select, text, update
from sqlalchemy.orm import Session

from coreviz_studio.auth.principal import Principal
from coreviz_studio.datasets.service import get_dataset
from coreviz_studio.db.tables import Cluster, DetectedObject, Media, visible_media
from coreviz_studio.errors import Invalid
from coreviz_studio.ids import IdRef, parse_id
from coreviz_studio.search import document
from coreviz_studio.tenancy import get_owned, scoped

# Cosine distance under which a member joins a cluster. Faces: dlib's same-person distance of
# 0.6 on its raw descriptors is about 0.43 between unit vectors, i.e. a cosine distance of 0.095
# (measured: the same face flipped 0.01, different people 0.15-0.21). Objects: crops of the
# same thing are within about 0.1, different things of one label mostly beyond 0.3.
THRESHOLDS = {"face": 0.095, "object": 0.3}
KINDS = tuple(THRESHOLDS)


def assign(session: Session, media_id: uuid.UUID) -> set[uuid.UUID]:
    """Put the media's unclustered faces and objects into clusters; the clusters touched."""
    rows = session.execute(
        select(DetectedObject.id, DetectedObject.organization_id, DetectedObject.type,
               DetectedObject.label, DetectedObject.embedding_model, DetectedObject.embedding)
        .where(DetectedObject.media_id == media_id, DetectedObject.cluster_id.is_(None),
               DetectedObject.embedding.is_not(None), DetectedObject.type.in_(KINDS))
    ).all()
    touched: set[uuid.UUID] = set()
    if not rows:
        return touched
    # One organization's clustering at a time: two workers must not found twin clusters.
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('clusters:' || :org))"),
                    {"org": str(rows[0].organization_id)})
    for row in rows:
        vector = np.asarray(row.embedding, dtype=np.float32)
        label = row.label if row.type == "object" else None
        cluster = _nearest(session, row.organization_id, row.type, row.embedding_model, label,
                           vector)
        if cluster is None:
            cluster = Cluster(id=uuid.uuid4(), organization_id=row.organization_id,
                              kind=row.type, model=row.embedding_model, centroid=vector,
                              member_count=0)
            session.add(cluster)
            session.flush()
        else:
            # Running mean, renormalized: the centroid follows its members.
            n = max(cluster.member_count, 0)
            mean = (np.asarray(cluster.centroid, dtype=np.float32) * n + vector) / (n + 1)
            cluster.centroid = mean / (np.linalg.norm(mean) or 1.0)
        cluster.member_count += 1
        session.execute(update(DetectedObject).where(DetectedObject.id == row.id)
                        .values(cluster_id=cluster.id))
        touched.add(cluster.id)
    return touched


def _nearest(session: Session, org: uuid.UUID, kind: str, model: str, label: str | None,
             vector: np.ndarray) -> Cluster | None:
    distance = Cluster.centroid.cosine_distance(vector)
    stmt = (select(Cluster, distance.label("d"))
            .where(Cluster.organization_id == org, Cluster.kind == kind, Cluster.model == model)
            .order_by(distance).limit(1))
    if label is not None:
        # An object cluster holds one label: its members'.
        stmt = stmt.where(Cluster.id.in_(
            select(DetectedObject.cluster_id).where(DetectedObject.organization_id == org,
                                                    DetectedObject.label == label)))
    found = session.execute(stmt).first()
    if found is None or found.d is None or found.d > THRESHOLDS[kind]:
        return None
    cluster: Cluster = found[0]
    return cluster


def recount(session: Session, cluster_ids: set[uuid.UUID]) -> None:
    """Member counts after members were added or deleted; empty unnamed clusters go."""
    if not cluster_ids:
        return
    ids = list(cluster_ids)
    counts = select(func.count()).select_from(DetectedObject).where(
        DetectedObject.cluster_id == Cluster.id).scalar_subquery()
    session.execute(update(Cluster).where(Cluster.id.in_(ids)).values(member_count=counts)
                    .execution_options(synchronize_session=False))
    session.execute(text("DELETE FROM clusters WHERE id = ANY(:ids) AND member_count = 0 "
                         "AND name IS NULL"), {"ids": ids})


# --- the API -------------------------------------------------------------------------------

def list_clusters(session: Session, principal: Principal, kind: str | None,
                  dataset_id: IdRef | None, limit: int, offset: int) -> tuple[list[Cluster], int]:
    stmt = scoped(Cluster, principal).where(Cluster.member_count > 0)
    if kind:
        if kind not in KINDS:
            raise Invalid(f"kind must be one of {', '.join(KINDS)}")
        stmt = stmt.where(Cluster.kind == kind)
    if dataset_id:
        dataset = get_dataset(session, principal, dataset_id)  # another org's is a 404
        in_dataset = select(DetectedObject.cluster_id).where(
            DetectedObject.dataset_id == dataset.id,
            DetectedObject.organization_id == principal.organization_id)
        stmt = stmt.where(Cluster.id.in_(in_dataset))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Cluster.member_count.desc(), Cluster.id)
                           .limit(limit).offset(offset)).all()
    return list(rows), total


def get_cluster(session: Session, principal: Principal, cluster_id: IdRef) -> Cluster:
    return get_owned(session, Cluster, parse_id(cluster_id, "cluster"), principal,
                     "Cluster not found")


def rename(session: Session, principal: Principal, cluster_id: IdRef, name: str | None) -> Cluster:
    """Name a cluster (a person's name on a face cluster); its media become findable by it."""
    cluster = get_cluster(session, principal, cluster_id)
    cluster.name = name
    members = session.scalars(select(DetectedObject.media_id).distinct()
                              .where(DetectedObject.cluster_id == cluster.id)).all()
    document.refresh(session, members)
    return cluster


def cover(session: Session, cluster: Cluster) -> DetectedObject | None:
    """The most confident member on an active media: what a client shows for the cluster."""
    stmt = (select(DetectedObject).join(Media, Media.id == DetectedObject.media_id)
            .where(DetectedObject.cluster_id == cluster.id, Media.status == "active")
            .order_by(DetectedObject.confidence.desc().nulls_last()).limit(1))
    return session.scalars(stmt).first()



def cluster_media(session: Session, principal: Principal, cluster_id: IdRef, limit: int,
                  offset: int) -> tuple[list[Media], int]:
    """The media a cluster's members are on, in every collection the caller sees, newest
    first (a person's photos across the organization; browse's `clusterId` is one collection's)."""
    cluster = get_cluster(session, principal, cluster_id)
    base = scoped(Media, principal).where(
        *visible_media(),
        exists().where(DetectedObject.media_id == Media.id,
                       DetectedObject.cluster_id == cluster.id))
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows: list[Media] = []
    if limit and offset < total:
        rows = list(session.scalars(base.order_by(Media.created_at.desc(), Media.id.desc())
                                    .limit(limit).offset(offset)))
    return rows, total
