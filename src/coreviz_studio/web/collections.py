"""What the collections page shows of each collection: its name, how many items, a cover."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from coreviz_studio.auth.principal import Principal
from coreviz_studio.datasets import service as datasets
from coreviz_studio.storage.urls import BlobUrls


@dataclass(frozen=True)
class Card:
    id: str
    name: str
    items: int
    cover: str | None  # the newest item's thumbnail URL (never an original); None: a placeholder


def cards(session: Session, principal: Principal, urls: BlobUrls) -> list[Card]:
    found = datasets.list_datasets(session, principal, str(principal.organization_id))
    ids = [d.id for d in found]
    counts = datasets.item_counts(session, principal, ids)
    covers = datasets.covers(session, principal, ids)
    return [Card(str(d.id), d.name, counts.get(d.id, 0), urls.of(covers.get(d.id)))
            for d in found]
