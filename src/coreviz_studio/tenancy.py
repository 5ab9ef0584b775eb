"""The one place where queries are scoped to the caller's organization.

Two walls: the service layer filters by the caller's organization (`scoped`, `get_owned`), and
`bind` makes PostgreSQL's row-level security enforce the same (db/rls.py), so a query that
forgets the filter still sees nothing of another organization. Another organization's rows are
indistinguishable from missing ones: 404, never 403.
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from coreviz_studio.auth.principal import Principal
from coreviz_studio.db.rls import scope_session
from coreviz_studio.db.tables import Dataset
from coreviz_studio.errors import NotFound

T = TypeVar("T")


def scoped(model: type[T], principal: Principal) -> Select[T]:
    """SELECT model WHERE organization_id = the caller's, and, for a key limited to some
    collections, only rows of those collections (a collection by its id, others by their
    dataset_id): another collection is as missing as another organization's."""
    org_col: Any = model.organization_id  # type: ignore[attr-defined]
    stmt = select(model).where(org_col == principal.organization_id)
    if principal.dataset_ids is not None:
        ds_col: Any = getattr(model, "id" if model is Dataset else "dataset_id", None)
        if ds_col is not None:
            stmt = stmt.where(ds_col.in_(principal.dataset_ids))
    return stmt


def get_owned(session: Session, model: type[T], row_id: uuid.UUID, principal: Principal,
              not_found: str) -> T:
    """The row with that id in the caller's organization, else NotFound(not_found)."""
    id_col: Any = model.id  # type: ignore[attr-defined]
    row = session.scalars(scoped(model, principal).where(id_col == row_id)).one_or_none()
    if row is None:
        raise NotFound(not_found)
    return row


def bind(session: Session, principal: Principal) -> None:
    """Every later query of this session sees only the caller's organization (and only the
    collections of a collection-scoped key): the database's wall."""
    scope_session(session, principal.organization_id, principal.dataset_ids)
