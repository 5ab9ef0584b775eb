"""A collection's browse generation: a counter that moves with every committed change of its
media, so a listing can reuse what it learnt about an unchanged collection (media/offsets.py);
and `media.name_key`, the name in lower case, stored, for listings by name.

A deferred constraint trigger bumps `datasets.browse_generation` once per transaction that
inserted, updated or deleted media of that collection, at commit. Bumping at commit (under the
row's lock) makes the counter's order the commit order: a snapshot that sees generation g sees
exactly the media changes of the transactions that made 1..g, so equal generations mean equal
media. (A counter bumped when the row changes, or a sequence, could be overtaken by a later
transaction that commits first.) The lock is held only from the trigger to the commit's end.

`name_key`: the name order used `lower(name)`, an expression index's column. Under row-level
security the planner may put into an index condition only leakproof functions, and lower() is
not one: a page by name at an offset sorted the whole folder. A stored column compared with
text operators (leakproof) can be walked from an index. Adding it rewrites the table once.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 16:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# One bump per collection and transaction: the row-level trigger fires for every row at
# commit; a transaction-local setting remembers the collections already bumped.
_FUNCTION = """
CREATE FUNCTION media_bump_browse_generation() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    ds uuid;
BEGIN
    FOREACH ds IN ARRAY ARRAY[
        CASE WHEN TG_OP <> 'DELETE' THEN NEW.dataset_id END,
        CASE WHEN TG_OP <> 'INSERT' THEN OLD.dataset_id END]
    LOOP
        CONTINUE WHEN ds IS NULL
            OR current_setting('coreviz_generation.d' || replace(ds::text, '-', ''), true)
               = 'bumped';
        UPDATE datasets SET browse_generation = browse_generation + 1 WHERE id = ds;
        PERFORM set_config('coreviz_generation.d' || replace(ds::text, '-', ''), 'bumped',
                           true);
    END LOOP;
    RETURN NULL;
END
$$
"""


_PARENT = "subpath(path, 0, nlevel(path) - 1)"
_VISIBLE = "status = 'active' AND is_active_version"


def upgrade() -> None:
    op.execute("ALTER TABLE media ADD COLUMN name_key text"
               " GENERATED ALWAYS AS (lower(name)) STORED")
    op.execute(f"CREATE INDEX media_children_name_key_idx ON media"
               f" (dataset_id, ({_PARENT}), name_key, id) WHERE {_VISIBLE}")
    op.execute("DROP INDEX IF EXISTS media_children_name_idx")
    op.execute("ALTER TABLE datasets ADD COLUMN browse_generation bigint NOT NULL DEFAULT 0")
    op.execute(_FUNCTION)
    op.execute("CREATE CONSTRAINT TRIGGER media_browse_generation"
               " AFTER INSERT OR UPDATE OR DELETE ON media"
               " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
               " EXECUTE FUNCTION media_bump_browse_generation()")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS media_browse_generation ON media")
    op.execute("DROP FUNCTION IF EXISTS media_bump_browse_generation()")
    op.execute("ALTER TABLE datasets DROP COLUMN IF EXISTS browse_generation")
    op.execute(f"CREATE INDEX IF NOT EXISTS media_children_name_idx ON media"
               f" (dataset_id, ({_PARENT}), lower(name), id) WHERE {_VISIBLE}")
    op.execute("DROP INDEX IF EXISTS media_children_name_key_idx")
    op.execute("ALTER TABLE media DROP COLUMN IF EXISTS name_key")
