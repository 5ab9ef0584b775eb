"""Rules of the tree: which paths are real containers, and the lock that keeps them real.

Writers that put a row under a folder (upload, new folder) take the collection's tree lock in
shared mode; moves and deletes of folders take it exclusively. So a row is never inserted under
a folder that is being moved away or deleted in the same instant.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, func, literal_column, select
from sqlalchemy.orm import Session

from coreviz_studio.auth.principal import Principal
from coreviz_studio.db.tables import Dataset, Ltree, Media
from coreviz_studio.errors import NotFound
from coreviz_studio.media import paths
from coreviz_studio.tenancy import scoped


def parent_path() -> ColumnElement[str]:
    """SQL: the path of the container a media row sits in (all labels but its own).

    The constants are written into the SQL, not bound: only then is the expression the one
    the children indexes are built on (migration 0002), so the planner can use them. Bound,
    it read `subpath(path, $1, nlevel(path) - $2)` and sorted a million rows for a page."""
    return func.subpath(Media.path, literal_column("0"),
                        func.nlevel(Media.path) - literal_column("1"), type_=Ltree)


def lock(session: Session, name: str, exclusive: bool = True) -> None:
    """A transaction-scoped PostgreSQL advisory lock on `name`."""
    key = func.hashtextextended(name, 0)
    fn = func.pg_advisory_xact_lock if exclusive else func.pg_advisory_xact_lock_shared
    session.execute(select(fn(key)))


def lock_tree(session: Session, dataset_id: uuid.UUID, exclusive: bool) -> None:
    lock(session, f"media-tree:{dataset_id}", exclusive)


def container(session: Session, principal: Principal, dataset: Dataset,
              path: str | None) -> str:
    """The normalised path of a place rows can live in: the collection's root (when `path` is
    None) or an existing folder of this collection. 400 for a malformed path, 404 when this
    collection has no such folder (it is elsewhere, or was deleted)."""
    root = paths.root(dataset.id)
    if path is None or not path.strip():
        return root
    normal = paths.parse(path)
    if normal == root:
        return root
    if not normal.startswith(root + "."):
        raise NotFound("Folder not found")  # well formed, but no folder of this collection
    folder = session.scalars(
        scoped(Media, principal).where(
            Media.id == paths.last_id(normal), Media.dataset_id == dataset.id,
            Media.type == "folder", Media.status == "active",
            Media.path == normal)  # the folder still sits where the path says
    ).one_or_none()
    if folder is None:
        raise NotFound("Folder not found")
    return normal
