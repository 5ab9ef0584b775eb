"""Collections of the caller's organization."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from coreviz_studio.auth.principal import Principal
from coreviz_studio.db.tables import Dataset, Media, visible_media
from coreviz_studio.errors import NotFound
from coreviz_studio.ids import IdRef, parse_id
from coreviz_studio.tenancy import get_owned, scoped


def _check_org(principal: Principal, org_id: IdRef) -> None:
    """The organization in the path must be the caller's (another one is simply not found)."""
    if parse_id(org_id, "organization") != principal.organization_id:
        raise NotFound("Organization not found")


def list_datasets(session: Session, principal: Principal, org_id: IdRef) -> list[Dataset]:
    _check_org(principal, org_id)
    stmt = scoped(Dataset, principal).where(Dataset.status == "active")
    return list(session.scalars(stmt.order_by(Dataset.created_at, Dataset.id)))


def create_dataset(session: Session, principal: Principal, org_id: IdRef, name: str,
                   icon: str | None) -> Dataset:
    _check_org(principal, org_id)
    principal.require_whole_organization("creating a collection")
    dataset = Dataset(id=uuid.uuid4(), organization_id=principal.organization_id, name=name,
                      icon=icon, type="default", metadata_={}, status="active",
                      created_by_id=principal.user_id)
    session.add(dataset)
    session.flush()
    session.refresh(dataset)
    return dataset


def get_dataset(session: Session, principal: Principal, dataset_id: IdRef) -> Dataset:
    dataset = get_owned(session, Dataset, parse_id(dataset_id, "dataset"), principal,
                        "Dataset not found")
    if dataset.status != "active":
        raise NotFound("Dataset not found")
    return dataset


def update_dataset(session: Session, principal: Principal, dataset_id: IdRef,
                   changes: dict[str, object]) -> Dataset:
    """Apply the given fields (only name and icon can be given; the schema refuses others)."""
    dataset = get_dataset(session, principal, dataset_id)
    if changes:
        for field, value in changes.items():
            setattr(dataset, field, value)
        dataset.updated_by_id = principal.user_id
        session.flush()
        session.refresh(dataset)
    return dataset


def _listed(principal: Principal, dataset_ids: Sequence[uuid.UUID]):  # type: ignore[no-untyped-def]
    """SQL: the items a browse of these collections lists (no folders, no trash, the active
    version of each item), in the caller's organization."""
    return (Media.dataset_id.in_(dataset_ids), Media.organization_id == principal.organization_id,
            *visible_media(), Media.type != "folder")


def item_counts(session: Session, principal: Principal,
                dataset_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """How many items each collection holds (all folders), in one query."""
    if not dataset_ids:
        return {}
    rows = session.execute(select(Media.dataset_id, func.count()).where(
        *_listed(principal, dataset_ids)).group_by(Media.dataset_id))
    return {dataset_id: count for dataset_id, count in rows}


def covers(session: Session, principal: Principal,
           dataset_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The thumbnail key of each collection's newest item that has one (its cover), in one
    query; a collection with no thumbnail yet is absent."""
    if not dataset_ids:
        return {}
    rows = session.execute(select(Media.dataset_id, Media.thumbnail_key)
                           .where(*_listed(principal, dataset_ids),
                                  Media.thumbnail_key.is_not(None))
                           .ext(distinct_on(Media.dataset_id))
                           .order_by(Media.dataset_id, Media.created_at.desc(), Media.id))
    return {dataset_id: key for dataset_id, key in rows if key}
