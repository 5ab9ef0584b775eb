"""Limits shared by every process: one row per counted key (sign-in source and account, device
code requests, user-code guesses), and an index to purge expired device codes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'rate_limits',
        sa.Column('key', sa.String(80), primary_key=True),
        sa.Column('level', sa.Float(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('blocked_until', sa.DateTime(timezone=True)),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('rate_limits_expires_idx', 'rate_limits', ['expires_at'])
    op.create_index('device_codes_expires_idx', 'device_codes', ['expires_at'])


def downgrade() -> None:
    op.drop_index('device_codes_expires_idx', table_name='device_codes')
    op.drop_table('rate_limits')
