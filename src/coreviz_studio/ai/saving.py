"""Keeping what /api/ai/edit and /api/ai/generate made: an edit as a new active version of the
item it was given (`mediaId`), a generation as a new item of a collection (`datasetId`).

Both go through uploads/service.store_upload, exactly as an upload does (type read from the
bytes, versions, the processing job), and then record how the picture was made under the
item's `metadata.ai`. The target is checked twice: before the (slow, paid) endpoint call, so a
wrong id costs nothing, and again when storing, in the transaction that writes the row.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from coreviz_studio import tenancy
from coreviz_studio.ai.generative import Made
from coreviz_studio.auth.principal import Principal, Role
from coreviz_studio.config import Settings
from coreviz_studio.datasets.service import get_dataset
from coreviz_studio.db.session import Database, committed, rolled_back
from coreviz_studio.db.tables import Media
from coreviz_studio.errors import Invalid, TooLarge
from coreviz_studio.media import tree
from coreviz_studio.media.service import get_row
from coreviz_studio.storage.base import BlobStore
from coreviz_studio.storage.urls import BlobUrls
from coreviz_studio.uploads.receive import Received
from coreviz_studio.uploads.service import store_upload


@dataclass(frozen=True)
class Target:
    """Where a made picture goes: a new version of `version_of`, or a new item of `dataset_id`
    (in the folder `path`, named `name`)."""

    version_of: str | None = None
    dataset_id: str | None = None
    path: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Saved:
    media_id: str
    url: str


@contextmanager
def _transaction(db: Database, principal: Principal) -> Iterator[Session]:
    """One transaction of the caller's organization, as a request's own would be (the routes
    of /api/ai hold no connection while the endpoint works)."""
    with db.sessions() as session:
        tenancy.bind(session, principal)
        try:
            yield session
            session.commit()
            committed(session)
        except BaseException:
            session.rollback()
            rolled_back(session)
            raise


def check(db: Database, store: BlobStore, settings: Settings, principal: Principal,
          target: Target, read_source: bool) -> bytes | None:
    """Refuse a target the caller may not write to (403) or that is not there (404); with
    `read_source`, the bytes of the item to edit (its own picture is the edit's input)."""
    principal.require(Role.member)  # keeping a picture writes to the library
    with _transaction(db, principal) as session:
        if target.version_of is not None:
            row = get_row(session, principal, target.version_of)
            if row.type != "image":
                raise Invalid(f"mediaId names a {row.type}: only images can be edited into a "
                              "new version")
            if not read_source:
                return None
            if (row.size_bytes or 0) > settings.fetch_max_bytes:
                raise TooLarge(f"the item's picture is larger than {settings.fetch_max_bytes:,}"
                               " bytes (COREVIZ_FETCH_MAX_BYTES); pass a smaller image")
            return b"".join(store.read(row.blob_key)) if row.blob_key else None
        if target.dataset_id is not None:
            dataset = get_dataset(session, principal, target.dataset_id)
            tree.container(session, principal, dataset, target.path)
    return None


def save(db: Database, store: BlobStore, settings: Settings, urls: BlobUrls,
         principal: Principal, target: Target, made: Made, how: dict[str, Any]) -> Saved:
    """Store `made` where `target` says; `how` (model, prompt...) becomes `metadata.ai`."""
    with _transaction(db, principal) as session:
        fields: dict[str, str] = {}
        if target.version_of is not None:
            previous = get_row(session, principal, target.version_of)
            fields = {"datasetId": str(previous.dataset_id), "versionOf": target.version_of}
        elif target.dataset_id is not None:
            fields = {"datasetId": target.dataset_id}
            fields.update({k: v for k, v in (("path", target.path), ("name", target.name))
                           if v})
        pending = store.begin()
        try:
            pending.write(made.data)
            pending.flush()
        except BaseException:
            pending.discard()
            raise
        kind = "edit" if target.version_of else "generated"
        received = Received(fields=fields, filename=f"{kind}.{made.ext}",
                            declared_type=made.mime, blob=pending)
        result = store_upload(session, principal, received, store, settings, urls)
        row = session.get(Media, result.media_id)
        assert row is not None
        row.metadata_ = {**row.metadata_, "ai": how}
        session.flush()
        return Saved(media_id=str(result.media_id), url=result.url)
