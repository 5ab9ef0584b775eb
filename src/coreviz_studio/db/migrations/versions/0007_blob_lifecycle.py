"""The blob lifecycle: trash, purge, orphan sweep and signed blob URLs (docs/lifecycle.md).

- `media.deleted_with`: the id of the item whose deletion put this row in the trash (itself for
  the item that was deleted; a folder's id for everything deleted with it), so that the trash
  lists only what was deleted, restore brings back exactly what went with it, and a purge takes
  the same set. NULL for a row deleted on its own as a version (not in the trash: it is purged
  by age).
- Indexes from a blob key to the row holding it (blob serving asks on every request, the sweep
  for every stored blob), and for the purge's "trashed before" scan.
- `server_secrets`: secrets every API process must share (the blob URL signing key); made on
  first use (blobs/signing.py), not here, so that a dump of the schema carries none.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('media', sa.Column('deleted_with', UUID(as_uuid=True), nullable=True))
    # What was deleted before this revision was an item deleted as a whole (a version deleted
    # alone is not the active one): each is its own entry in the trash.
    op.execute("UPDATE media SET deleted_with = id WHERE status = 'deleted' AND is_active_version")
    op.execute("CREATE INDEX media_blob_key_idx ON media (blob_key) WHERE blob_key IS NOT NULL")
    op.execute("CREATE INDEX frames_blob_key_idx ON frames (blob_key) WHERE blob_key IS NOT NULL")
    op.execute("CREATE INDEX frames_thumbnail_key_idx ON frames (thumbnail_key)"
               " WHERE thumbnail_key IS NOT NULL")
    op.execute("CREATE INDEX embeddings_media_idx ON embeddings (media_id)")
    op.execute("CREATE INDEX media_deleted_with_idx ON media (deleted_with)"
               " WHERE deleted_with IS NOT NULL")
    op.execute("CREATE INDEX media_trashed_idx ON media (deleted_at) WHERE status = 'deleted'")
    op.create_table(
        'server_secrets',
        sa.Column('name', sa.Text(), primary_key=True),
        sa.Column('value', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
    )
    # Only the owner (system sessions) reads it: the application role never needs the key.
    op.execute("REVOKE ALL ON server_secrets FROM coreviz_app")


def downgrade() -> None:
    op.drop_table('server_secrets')
    for index in ("media_trashed_idx", "media_deleted_with_idx", "embeddings_media_idx",
                  "frames_thumbnail_key_idx", "frames_blob_key_idx",
                  "media_blob_key_idx"):
        op.execute(f"DROP INDEX IF EXISTS {index}")
    op.drop_column('media', 'deleted_with')
