"""Which rows hold a blob key: the one question blob serving, the purge and the orphan sweep ask.

It is asked across organizations (a blob URL names no organization; the sweep and the purge
judge every blob), so it runs in a system session, which row-level security does not scope.
That is deliberate and kept to this one read-only function: it reveals only who holds a key.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import text

from coreviz_studio.db.session import Database

# Each branch is an index scan (migrations 0007 and 0010: media_*_key_idx, frames_*_key_idx).
_HOLDERS = text("""
    SELECT m.blob_key AS key, 'original' AS role, m.organization_id, m.dataset_id, m.status
      FROM media m WHERE m.blob_key = ANY(:keys)
    UNION ALL
    SELECT m.thumbnail_key, 'thumbnail', m.organization_id, m.dataset_id, m.status
      FROM media m WHERE m.thumbnail_key = ANY(:keys)
    UNION ALL
    SELECT f.blob_key, 'frame', m.organization_id, m.dataset_id, m.status
      FROM frames f JOIN media m ON m.id = f.media_id WHERE f.blob_key = ANY(:keys)
    UNION ALL
    SELECT f.thumbnail_key, 'frame', m.organization_id, m.dataset_id, m.status
      FROM frames f JOIN media m ON m.id = f.media_id WHERE f.thumbnail_key = ANY(:keys)""")


@dataclass(frozen=True)
class Holder:
    """A media row holding the key: as its original, its thumbnail, or a frame's image or
    thumbnail."""

    organization_id: uuid.UUID
    dataset_id: uuid.UUID
    active: bool  # False: the item is in the trash (or a deleted version)
    role: str  # "original", "thumbnail" (the item's) or "frame"


def holders(db: Database, keys: Collection[str]) -> dict[str, list[Holder]]:
    """The rows holding each of `keys`; a key no row holds is missing from the answer."""
    found: dict[str, list[Holder]] = defaultdict(list)
    if not keys:
        return found
    # One statement and no transaction around it (no BEGIN, no ROLLBACK): the grid asks this
    # once per thumbnail, a hundred at a time.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for row in connection.execute(_HOLDERS, {"keys": list(keys)}):
            found[row.key].append(Holder(row.organization_id, row.dataset_id,
                                         row.status == "active", row.role))
    return found


def sees_every_row(db: Database) -> bool:
    """Whether system sessions see every organization's rows: a superuser or BYPASSRLS (the
    embedded database's owner), or an owner that the maintenance policy covers (migration 0009).
    One that is none of these sees no library rows (FORCE, 0006): to it every blob would look
    unheld."""
    with db.system_sessions() as session:
        return bool(session.scalar(text(
            "SELECT rolsuper OR rolbypassrls OR EXISTS (SELECT 1 FROM pg_policies "
            "WHERE tablename = 'media' AND policyname = 'owner_maintenance' "
            "AND current_user = ANY (roles)) FROM pg_roles WHERE rolname = current_user")))
