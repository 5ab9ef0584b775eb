"""What the collections page shows of each collection: its name, how many items, a cover."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from coreviz_studio.auth.principal import Principal
from coreviz_studio.datasets import service as datasets
from coreviz_studio.media.views import media_out
from coreviz_studio.storage.urls import BlobUrls


@dataclass(frozen=True)
class Card:
    id: str
    name: str
    items: int
    cover: str | None  # a thumbnail's URL; None: the page shows a placeholder


def _thumbnail(answer: Any) -> str | None:
    """The media answer's `thumbnail` URL, once media answers carry one (a string, or an object
    with a `url`). Never the original (`blob`): a cover must stay small."""
    thumbnail = getattr(answer, "thumbnail", None)
    if isinstance(thumbnail, str):
        return thumbnail or None
    url = getattr(thumbnail, "url", None)
    if url is None and isinstance(thumbnail, dict):
        url = thumbnail.get("url")
    return url if isinstance(url, str) and url else None


def cards(session: Session, principal: Principal, urls: BlobUrls) -> list[Card]:
    found = datasets.list_datasets(session, principal, str(principal.organization_id))
    ids = [d.id for d in found]
    counts = datasets.item_counts(session, principal, ids)
    covers = datasets.latest_items(session, principal, ids)
    return [Card(str(d.id), d.name, counts.get(d.id, 0),
                 _thumbnail(media_out(covers[d.id], [], urls)) if d.id in covers else None)
            for d in found]
