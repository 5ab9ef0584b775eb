"""Search: one text document per media (name, tags, captions, text read, labels, cluster
names), with its stored tsvector indexed for full text, and the text indexed for trigram
similarity; clusters by kind and model.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_VISIBLE = "status = 'active' AND is_active_version"


def upgrade() -> None:
    op.add_column('media', sa.Column('search_text', sa.Text(), nullable=False,
                                     server_default=''))
    # Names only: captions and the rest come with (re)processing, `coreviz-studio reprocess`.
    op.execute("UPDATE media SET search_text = regexp_replace(name, '[._\\-]+', ' ', 'g')")
    # Stored, not an expression index only: ranking reads the vector of every match, and
    # parsing the text again per row made a query matching 90,000 items take a second.
    op.execute("ALTER TABLE media ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
               "(to_tsvector('english', search_text)) STORED")
    op.execute(f"CREATE INDEX media_search_fts ON media USING gin (search_vector) WHERE {_VISIBLE}")
    op.execute("CREATE INDEX media_search_trgm ON media USING gin "
               f"(search_text gin_trgm_ops) WHERE {_VISIBLE}")
    op.execute("CREATE INDEX clusters_org_model_idx ON clusters (organization_id, kind, model)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS clusters_org_model_idx")
    op.execute("DROP INDEX IF EXISTS media_search_trgm")
    op.execute("DROP INDEX IF EXISTS media_search_fts")
    op.drop_column('media', 'search_vector')
    op.drop_column('media', 'search_text')
