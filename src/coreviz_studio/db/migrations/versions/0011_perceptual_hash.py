"""Duplicates (docs/duplicates.md): `media.perceptual_hash`, the 64-bit pHash of the frame the
item's thumbnail shows, computed by processing (pipeline/fingerprint.py), as a signed BIGINT. NULL until the
item is processed (or reprocessed, or `coreviz-studio fingerprints` fills it in from the stored
thumbnail), and for folders. Indexed with the collection for the duplicates grouping, which
reads every hashed item of one collection.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 16:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('media', sa.Column('perceptual_hash', sa.BigInteger(), nullable=True))
    op.execute("CREATE INDEX media_perceptual_hash_idx ON media (dataset_id, perceptual_hash)"
               " WHERE perceptual_hash IS NOT NULL")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS media_perceptual_hash_idx")
    op.drop_column('media', 'perceptual_hash')
