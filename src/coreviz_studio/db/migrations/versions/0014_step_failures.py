"""Items that are usable but have a failed processing step (docs/processing.md), counted by
`GET /api/queue` (`withFailedStep`) without reading a million items: a partial index of plain
columns, as media_failed_idx (migration 0012).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 19:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE INDEX media_step_failed_idx ON media (organization_id, dataset_id)"
               " WHERE status = 'active' AND type <> 'folder'"
               " AND (metadata->'processing'->'failedSteps') IS NOT NULL")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS media_step_failed_idx")
