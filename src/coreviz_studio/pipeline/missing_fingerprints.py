"""Perceptual hashes for items processed before there were any (`coreviz-studio fingerprints`,
docs/duplicates.md): computed from the item's stored frame thumbnails, the very pictures
processing hashes (the frame its thumbnail shows), without decoding the original or running a
model.

It runs in the command's own process, a batch at a time: a thumbnail is a few KB and hashing it
takes milliseconds. A hash is written only where there is still none, so an item processed
meanwhile keeps the one processing wrote.
"""

from __future__ import annotations

import tempfile
import uuid
from collections import defaultdict
from pathlib import Path

from sqlalchemy import exists, select, update

from coreviz_studio.db.session import Database
from coreviz_studio.db.tables import Frame, Media
from coreviz_studio.pipeline import fingerprint, thumbnail
from coreviz_studio.storage.base import BlobStore, NotStored

_BATCH = 200


def fill_missing(db: Database, store: BlobStore, dataset_id: uuid.UUID | None = None) -> int:
    """Hash every active, processed item (of one collection, or all) that has no hash; how many
    were hashed. No organization check: the caller is the operator."""
    done = 0
    after = uuid.UUID(int=0)
    while True:
        stmt = (select(Media.id, Media.type)
                .where(Media.status == "active", Media.type != "folder",
                       Media.perceptual_hash.is_(None), Media.id > after,
                       exists().where(Frame.media_id == Media.id))
                .order_by(Media.id).limit(_BATCH))
        if dataset_id is not None:
            stmt = stmt.where(Media.dataset_id == dataset_id)
        with db.system_sessions() as session:
            items = session.execute(stmt).all()
            keys: dict[uuid.UUID, list[str]] = defaultdict(list)
            for media_id, key in session.execute(
                    select(Frame.media_id, Frame.thumbnail_key)
                    .where(Frame.media_id.in_([i[0] for i in items]),
                           Frame.frame_index < thumbnail.POSTER_CANDIDATES)
                    .order_by(Frame.media_id, Frame.frame_index)):
                if key:
                    keys[media_id].append(key)
        if not items:
            return done
        hashes = {}
        for media_id, kind in items:
            value = _hash(store, kind, keys[media_id][:thumbnail.candidates(kind)])
            if value is not None:
                hashes[media_id] = value
        with db.system_sessions.begin() as session:
            for media_id, value in hashes.items():
                result = session.execute(
                    update(Media).where(Media.id == media_id, Media.perceptual_hash.is_(None))
                    .values(perceptual_hash=value))
                done += int(result.rowcount or 0)  # type: ignore[attr-defined]
        after = items[-1][0]


def _hash(store: BlobStore, kind: str, keys: list[str]) -> int | None:
    """The hash of the frame processing would hash (thumbnail.choose), from stored thumbnails."""
    if not keys:
        return None
    with tempfile.TemporaryDirectory(prefix="fingerprints-") as tmp:
        paths = []
        for i, key in enumerate(keys):
            path = Path(tmp) / f"{i}.jpg"
            try:
                store.fetch(key, path)
            except NotStored:  # reprocessed since it was read: processing hashes it
                return None
            paths.append(path)
        return fingerprint.of_file(thumbnail.choose(kind, paths))
