"""HTTP for collections; all rules live in the service."""

from __future__ import annotations

from fastapi import APIRouter, status

from coreviz_studio.datasets import service
from coreviz_studio.datasets.schemas import (
    DatasetCreate,
    DatasetCreated,
    DatasetEnvelope,
    DatasetOut,
    DatasetUpdate,
)
from coreviz_studio.deps import Db, Member, Viewer
from coreviz_studio.ids import Id

router = APIRouter(prefix="/api", tags=["collections"])


@router.get("/organization/{org_id}/datasets", response_model=list[DatasetOut])
def list_datasets(org_id: Id, db: Db, principal: Viewer) -> list[DatasetOut]:
    return [DatasetOut.model_validate(d) for d in service.list_datasets(db, principal, org_id)]


@router.post("/organization/{org_id}/datasets", response_model=DatasetCreated,
             status_code=status.HTTP_201_CREATED)
def create_dataset(org_id: Id, body: DatasetCreate, db: Db,
                   principal: Member) -> DatasetCreated:
    out = DatasetOut.model_validate(
        service.create_dataset(db, principal, org_id, body.name, body.icon))
    return DatasetCreated(**out.model_dump(), dataset=out)


@router.get("/dataset/{dataset_id}", response_model=DatasetEnvelope)
def get_dataset(dataset_id: Id, db: Db, principal: Viewer) -> DatasetEnvelope:
    dataset = service.get_dataset(db, principal, dataset_id)
    return DatasetEnvelope(dataset=DatasetOut.model_validate(dataset))


@router.patch("/dataset/{dataset_id}", response_model=DatasetEnvelope)
def update_dataset(dataset_id: Id, body: DatasetUpdate, db: Db,
                   principal: Member) -> DatasetEnvelope:
    changes = body.model_dump(exclude_unset=True)
    dataset = service.update_dataset(db, principal, dataset_id, changes)
    return DatasetEnvelope(dataset=DatasetOut.model_validate(dataset))
