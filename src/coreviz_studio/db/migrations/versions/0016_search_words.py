"""Search words: each organization's dictionary of the words in its search documents, indexed
for trigrams, so a typo is corrected against the dictionary (small) and the corrected words are
then found with the full-text index, instead of trigram matching every document.

`coreviz_search_words(text)` is the one rule for what a word is (lower case, letters and digits,
and the runs of letters in them, 3 to 40 characters, at least one letter: numbers and hashes
are not typos of anything); the
dictionary, its backfill here and the query's words all use it. Words are only ever added
(search/document.py adds a document's words when it is rebuilt): a word no document holds any
more costs one dictionary row and finds nothing.

The trigram index on the whole documents (`media_search_trgm`) is dropped: the typo fallback no
longer reads it, and on short typos it returned most of the library for a recheck.

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-01 19:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0016'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "coreviz_app"
_VISIBLE = "status = 'active' AND is_active_version"

_WORDS = """
CREATE FUNCTION coreviz_search_words(document text) RETURNS SETOF text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    -- Letter runs too: text read from a picture glues words to numbers ("INVOICE2024").
    SELECT DISTINCT w FROM (
        SELECT regexp_split_to_table(lower(document), '[^[:alnum:]]+')
        UNION ALL SELECT regexp_split_to_table(lower(document), '[^[:alpha:]]+')) s(w)
     WHERE length(w) BETWEEN 3 AND 40 AND w ~ '[[:alpha:]]'
$$
"""


def upgrade() -> None:
    op.execute(_WORDS)
    op.execute("""
        CREATE TABLE search_words (
            organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
            word text NOT NULL,
            PRIMARY KEY (organization_id, word))""")
    op.execute("CREATE INDEX search_words_trgm ON search_words USING gin (word gin_trgm_ops)")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON search_words TO {APP_ROLE}")
    op.execute("ALTER TABLE search_words ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE search_words FORCE ROW LEVEL SECURITY")
    rule = "organization_id = (SELECT coreviz_current_org())"
    op.execute(f"CREATE POLICY tenant_isolation ON search_words USING ({rule}) "
               f"WITH CHECK ({rule})")
    op.execute("""
        INSERT INTO search_words (organization_id, word)
        SELECT DISTINCT m.organization_id, w.word
          FROM media m, coreviz_search_words(m.search_text) w(word)
        ON CONFLICT DO NOTHING""")
    op.execute("DROP INDEX IF EXISTS media_search_trgm")


def downgrade() -> None:
    op.execute("CREATE INDEX IF NOT EXISTS media_search_trgm ON media USING gin "
               f"(search_text gin_trgm_ops) WHERE {_VISIBLE}")
    op.execute("DROP TABLE IF EXISTS search_words")
    op.execute("DROP FUNCTION IF EXISTS coreviz_search_words(text)")
