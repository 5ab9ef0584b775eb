"""What the media view renders on the server: the item's name and type, its collection, and the
folders it is in (breadcrumbs and the link back). Everything else (the original, frames,
analysis, versions, tags) the page's script reads from the JSON API (static/js/media.js)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from coreviz_studio.auth.principal import Principal
from coreviz_studio.datasets import service as datasets
from coreviz_studio.db.tables import Media
from coreviz_studio.media import paths
from coreviz_studio.media import service as media
from coreviz_studio.tenancy import scoped


@dataclass(frozen=True)
class Crumb:
    name: str
    url: str


@dataclass(frozen=True)
class Header:
    id: str
    name: str
    type: str
    dataset_id: str
    crumbs: list[Crumb]  # the collection, then each folder down to the item's own
    path: str

    @property
    def folder_url(self) -> str:
        """For a folder: where the library view lists what it holds."""
        return folder_url(uuid.UUID(self.dataset_id), self.path)

    @property
    def back(self) -> Crumb:
        return self.crumbs[-1]


def folder_url(dataset_id: uuid.UUID, folder_path: str) -> str:
    """The library view of a collection (/c/{id}) at a folder (?path=<its ltree path>)."""
    if folder_path == paths.root(dataset_id):
        return f"/c/{dataset_id}"
    return f"/c/{dataset_id}?path={folder_path}"


def header(session: Session, principal: Principal, media_id: str) -> Header:
    """The item's header; NotFound (404) when it is not an active item the caller may see."""
    row = media.get_row(session, principal, media_id)
    dataset = datasets.get_dataset(session, principal, row.dataset_id)
    labels = row.path.split(".")[1:-1]  # the folders between the collection and the item
    ids = [uuid.UUID(label) for label in labels]
    names = {f.id: f.name for f in session.scalars(
        scoped(Media, principal).where(Media.id.in_(ids)))} if ids else {}
    crumbs = [Crumb(dataset.name, folder_url(row.dataset_id, paths.root(row.dataset_id)))]
    for depth, folder_id in enumerate(ids, start=2):
        crumbs.append(Crumb(names.get(folder_id, "Folder"),
                            folder_url(row.dataset_id, ".".join(row.path.split(".")[:depth]))))
    return Header(str(row.id), row.name, row.type, str(row.dataset_id), crumbs, row.path)
