"""Indexes for browsing: the children of a container in date or name order, and all visible
media of a collection in date order.

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
    # INCLUDE the columns the query also reads, so counting a folder is an index-only scan.
    op.execute(f"CREATE INDEX media_children_idx ON media (dataset_id, ({_PARENT}), created_at, id)"
               f" INCLUDE (organization_id, path) WHERE {_VISIBLE}")
    op.execute(f"CREATE INDEX media_children_name_idx ON media"
               f" (dataset_id, ({_PARENT}), lower(name), id) WHERE {_VISIBLE}")
    # Statistics on the parent expression: without them the planner guesses that a folder holds
    # 0.5% of a collection and sorts a 90,000-row root listing instead of walking the index.
    op.execute(f"CREATE STATISTICS media_parent_stats ON ({_PARENT}) FROM media")
    op.execute(f"CREATE INDEX media_visible_idx ON media (dataset_id, created_at, id)"
               f" WHERE {_VISIBLE}")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS media_visible_idx")
    op.execute("DROP STATISTICS IF EXISTS media_parent_stats")
    op.execute("DROP INDEX IF EXISTS media_children_name_idx")
    op.execute("DROP INDEX IF EXISTS media_children_idx")
