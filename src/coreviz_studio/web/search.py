"""What the search page and the collection placeholder page need from the services: the
collections to search in, and the one a `dataset` parameter names (None when it names none)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from coreviz_studio.auth.principal import Principal
from coreviz_studio.datasets import service as datasets
from coreviz_studio.errors import AppError

MODELS = ("objects", "faces", "image")  # browse's similarToObjectModel values


@dataclass(frozen=True)
class Scope:
    id: str
    name: str


def scopes(session: Session, principal: Principal) -> list[Scope]:
    return [Scope(str(d.id), d.name)
            for d in datasets.list_datasets(session, principal, str(principal.organization_id))]


def chosen(session: Session, principal: Principal, dataset: str) -> Scope | None:
    """The collection `dataset` names, if it is one of the caller's (an id that is no id, or
    another organization's, is None: the page says "not found", never a 500)."""
    try:
        found = datasets.get_dataset(session, principal, dataset.strip())
    except AppError:
        return None
    return Scope(str(found.id), found.name)
