"""Perceptual hashes for items processed before there were any (`coreviz-studio fingerprints`,
docs/duplicates.md): computed from each item's stored first-frame thumbnail, the very picture
processing hashes, without decoding the original or running a model.

It runs in the command's own process, a batch at a time: a thumbnail is a few KB and hashing it
takes milliseconds. A hash is written only where there is still none, so an item processed
meanwhile keeps the one processing wrote.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

from sqlalchemy import select, update

from coreviz_studio.db.session import Database
from coreviz_studio.db.tables import Frame, Media
from coreviz_studio.pipeline import fingerprint
from coreviz_studio.storage.base import BlobStore, NotStored

_BATCH = 200


def fill_missing(db: Database, store: BlobStore, dataset_id: uuid.UUID | None = None) -> int:
    """Hash every active, processed item (of one collection, or all) that has no hash; how many
    were hashed. No organization check: the caller is the operator."""
    done = 0
    after = uuid.UUID(int=0)
    while True:
        stmt = (select(Media.id, Frame.thumbnail_key)
                .join(Frame, (Frame.media_id == Media.id) & (Frame.frame_index == 0))
                .where(Media.status == "active", Media.type != "folder",
                       Media.perceptual_hash.is_(None), Frame.thumbnail_key.is_not(None),
                       Media.id > after)
                .order_by(Media.id).limit(_BATCH))
        if dataset_id is not None:
            stmt = stmt.where(Media.dataset_id == dataset_id)
        with db.system_sessions() as session:
            rows = session.execute(stmt).all()
        if not rows:
            return done
        hashes = _hash_thumbnails(store, [(r[0], r[1]) for r in rows if r[1]])
        with db.system_sessions.begin() as session:
            for media_id, value in hashes.items():
                result = session.execute(
                    update(Media).where(Media.id == media_id, Media.perceptual_hash.is_(None))
                    .values(perceptual_hash=value))
                done += int(result.rowcount or 0)  # type: ignore[attr-defined]
        after = rows[-1][0]


def _hash_thumbnails(store: BlobStore, keys: list[tuple[uuid.UUID, str]]
                     ) -> dict[uuid.UUID, int]:
    out: dict[uuid.UUID, int] = {}
    with tempfile.TemporaryDirectory(prefix="fingerprints-") as tmp:
        path = Path(tmp) / "thumb.jpg"
        for media_id, key in keys:
            try:
                store.fetch(key, path)
            except NotStored:  # reprocessed since it was read: processing hashes it
                continue
            value = fingerprint.of_file(path)
            if value is not None:
                out[media_id] = value
    return out
