"""Resumable (tus) uploads: one row per upload in progress (or finished, until it expires),
under the same row-level security as the library (see 0006).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RULE = ("organization_id = (SELECT coreviz_current_org()) AND "
         "((SELECT coreviz_dataset_scope()) IS NULL OR "
         "dataset_id = ANY ((SELECT coreviz_dataset_scope())::uuid[]))")


def upgrade() -> None:
    op.create_table(
        'tus_uploads',
        sa.Column('id', UUID(as_uuid=True), primary_key=True,
                  server_default=sa.text('gen_random_uuid()')),
        sa.Column('organization_id', UUID(as_uuid=True),
                  sa.ForeignKey('organizations.id', ondelete='CASCADE'), nullable=False),
        sa.Column('dataset_id', UUID(as_uuid=True),
                  sa.ForeignKey('datasets.id', ondelete='CASCADE'), nullable=False),
        sa.Column('created_by_id', UUID(as_uuid=True),
                  sa.ForeignKey('users.id', ondelete='SET NULL')),
        sa.Column('metadata', JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column('length', sa.BigInteger(), nullable=False),
        sa.Column('offset', sa.BigInteger(), nullable=False, server_default='0'),
        sa.Column('store_state', sa.Text(), nullable=False),
        sa.Column('head', sa.LargeBinary(), nullable=False, server_default=sa.text("''::bytea")),
        sa.Column('result', JSONB),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('"offset" >= 0 AND "offset" <= length', name='tus_offset_check'),
    )
    op.create_index('tus_uploads_expires_idx', 'tus_uploads', ['expires_at'])
    op.execute("ALTER TABLE tus_uploads ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE tus_uploads FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON tus_uploads USING ({_RULE}) "
               f"WITH CHECK ({_RULE})")


def downgrade() -> None:
    op.drop_table('tus_uploads')
