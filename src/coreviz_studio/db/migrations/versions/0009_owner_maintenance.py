"""System work runs as the tables' owner: finding which item holds a blob, the pipeline's
organization lookup, purges, the orphan sweep and the tus expiry. FORCE ROW LEVEL SECURITY
(0006) applies the tenant policy to the owner too, so where the owner is neither a superuser nor
BYPASSRLS (an external PostgreSQL, a managed one) it saw no library rows at all: every blob
looked unheld and nothing could be purged. A permissive policy for the owner alone gives it
every row. Request sessions are not the owner: they are `coreviz_app` (SET ROLE, or its own
login on the embedded database), which still has only `tenant_isolation`.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 13:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POLICY = "owner_maintenance"
TABLES = ("datasets", "media", "frames", "captions", "objects", "embeddings", "clusters",
          "tus_uploads")


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"CREATE POLICY {POLICY} ON {table} TO CURRENT_USER "
                   "USING (true) WITH CHECK (true)")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
