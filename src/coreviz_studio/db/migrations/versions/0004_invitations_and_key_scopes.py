"""Invitations (membership only by the invitee's consent) and scoped API keys (read-only and/or
limited to some collections).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'invitations',
        sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
        sa.Column('organization_id', sa.UUID(), nullable=False),
        sa.Column('email', sa.Text(), nullable=False),
        sa.Column('role', sa.String(length=16), server_default='member', nullable=False),
        sa.Column('status', sa.String(length=16), server_default='pending', nullable=False),
        sa.Column('inviter_id', sa.UUID(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.CheckConstraint("role IN ('owner', 'admin', 'member', 'viewer')",
                           name='invitations_role_check'),
        sa.CheckConstraint("status IN ('pending', 'accepted', 'rejected', 'canceled')",
                           name='invitations_status_check'),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['inviter_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    # One pending invitation per person and organization: inviting again updates it.
    op.execute("CREATE UNIQUE INDEX invitations_one_pending ON invitations "
               "(organization_id, lower(email)) WHERE status = 'pending'")
    # The invitee's own list (list-user-invitations) looks them up by email.
    op.execute("CREATE INDEX invitations_email_idx ON invitations (lower(email)) "
               "WHERE status = 'pending'")
    op.add_column('api_keys', sa.Column('read_only', sa.Boolean(), server_default='false',
                                        nullable=False))
    # NULL: every collection of the organization (what a key meant before scopes).
    op.add_column('api_keys', sa.Column('dataset_ids', postgresql.ARRAY(sa.UUID()),
                                        nullable=True))


def downgrade() -> None:
    op.drop_column('api_keys', 'dataset_ids')
    op.drop_column('api_keys', 'read_only')
    op.execute("DROP INDEX IF EXISTS invitations_email_idx")
    op.execute("DROP INDEX IF EXISTS invitations_one_pending")
    op.drop_table('invitations')
