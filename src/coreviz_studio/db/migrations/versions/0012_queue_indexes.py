"""Indexes for the queue (docs/queue.md): the priority of a person's next job, and an
organization's counts by state (`GET /api/queue`) without reading its million items.

- coreviz_jobs_uploader_idx: an uploader's last waiting job (pipeline/priority.py), one probe.
- coreviz_jobs_org_idx: an organization's waiting and running processing jobs, oldest first.
- media_ready_idx, media_failed_idx: the items in that state, per organization and collection;
  the states live in `metadata.processing`, so partial indexes of plain columns, which a count
  reads alone (an index-only scan; the row-level security policy needs only those columns).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 17:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PROCESS = "coreviz_studio.process_media"  # pipeline/queue.py TASK
_ITEM = "status = 'active' AND type <> 'folder'"
_STATE = "(metadata->'processing'->>'status')"


def upgrade() -> None:
    op.execute("CREATE INDEX coreviz_jobs_uploader_idx ON procrastinate_jobs"
               " ((args->>'uploader'), priority) WHERE status = 'todo'")
    op.execute("CREATE INDEX coreviz_jobs_org_idx ON procrastinate_jobs"
               " ((args->>'organization_id'), status, id)"
               f" WHERE status IN ('todo', 'doing') AND task_name = '{_PROCESS}'")
    for state in ("ready", "failed"):
        op.execute(f"CREATE INDEX media_{state}_idx ON media (organization_id, dataset_id)"
                   f" WHERE {_ITEM} AND {_STATE} = '{state}'")


def downgrade() -> None:
    for name in ("media_failed_idx", "media_ready_idx", "coreviz_jobs_org_idx",
                 "coreviz_jobs_uploader_idx"):
        op.execute(f"DROP INDEX IF EXISTS {name}")
