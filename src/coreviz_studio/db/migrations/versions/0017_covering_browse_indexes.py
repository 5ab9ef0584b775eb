"""The browse indexes by name and across folders cover what the policy and the filters read.

A page whose marks are stale (a collection being written) walks its offset over ids
(media/offsets.py). Under row-level security every row the walk steps over is checked against
`organization_id`, and a folder's listing against `path`: `media_children_idx` (a folder by
date) includes both, so that walk is an index-only scan. The index by name
(`media_children_name_key_idx`) and the one listings across folders use
(`media_visible_idx`: recursive, a date range, a tag filter's order) did not, so their walks
and their mark-making passes read every row from the heap. Both are made again with
`INCLUDE (organization_id, path)`, under their old names.

Building them reads the table once each (seconds per million media).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 06:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PARENT = "subpath(path, 0, nlevel(path) - 1)"
_VISIBLE = "status = 'active' AND is_active_version"
_INDEXES = {
    "media_children_name_key_idx": f"(dataset_id, ({_PARENT}), name_key, id)",
    "media_visible_idx": "(dataset_id, created_at, id)",
}


def _remake(include: str) -> None:
    for name, columns in _INDEXES.items():
        op.execute(f"CREATE INDEX {name}_new ON media {columns}{include} WHERE {_VISIBLE}")
        op.execute(f"DROP INDEX {name}")
        op.execute(f"ALTER INDEX {name}_new RENAME TO {name}")


def upgrade() -> None:
    _remake(" INCLUDE (organization_id, path)")


def downgrade() -> None:
    _remake("")
