"""A thumbnail per item (docs/thumbnails.md): `media.thumbnail_key`, the blob key of the small
preview processing makes (an image's thumbnail, a video's poster, a PDF's first page). NULL until
made, for folders, and for items processed before this revision (`coreviz-studio thumbnails`
makes those). Indexed like the other keys: blob serving, the purge and the sweep ask which row
holds a key (blobs/refs.py).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('media', sa.Column('thumbnail_key', sa.Text(), nullable=True))
    op.execute("CREATE INDEX media_thumbnail_key_idx ON media (thumbnail_key)"
               " WHERE thumbnail_key IS NOT NULL")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS media_thumbnail_key_idx")
    op.drop_column('media', 'thumbnail_key')
