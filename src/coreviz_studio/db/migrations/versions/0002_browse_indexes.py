"""Indexes for browsing: children of a container in sort order, and media of a version group.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 12:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The listing of one folder (or the collection root): rows whose parent path is that container,
# visible ones only, in the default order (createdAt, id).
_PARENT = "subpath(path, 0, nlevel(path) - 1)"
_VISIBLE = "status = 'active' AND is_active_version"


def upgrade() -> None:
    op.execute(f"CREATE INDEX media_children_idx ON media (dataset_id, ({_PARENT}), created_at, id)"
               f" WHERE {_VISIBLE}")
    op.execute(f"CREATE INDEX media_visible_idx ON media (dataset_id, created_at, id)"
               f" WHERE {_VISIBLE}")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS media_visible_idx")
    op.execute("DROP INDEX IF EXISTS media_children_idx")
