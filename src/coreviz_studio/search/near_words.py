"""Typos, bounded by indexes: a query's words are corrected against the organization's
dictionary of document words (`search_words`, migration 0016), and the items holding the
corrected words are found with the full-text index.

Trigram matching every document (`query <% search_text`) was a scan in all but name: a short
typo shares a trigram or two with most documents, so the trigram index handed most of the
library back for a recheck (1.3 s at 1M frames). The dictionary is small (distinct words, not
documents), so trigram search over it is cheap, and what it returns is a handful of words.
The near misses' score is unchanged: `word_similarity` of the query with the document,
computed only for the items found through the corrected words. Like exact words, corrected
words found in `text_cap` items or more only re-rank the vector candidates.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from sqlalchemy import event, text
from sqlalchemy.orm import Session

# Corrections kept per query word, most similar first: a typo has a few plausible words, not
# hundreds; this caps the full-text query built from them.
WORDS_PER_TYPO = 5

_ADD = text("""
INSERT INTO search_words (organization_id, word)
SELECT DISTINCT m.organization_id, w.word
  FROM media m, coreviz_search_words(m.search_text) w(word)
 WHERE m.id = ANY(:ids)
 ORDER BY 1, 2
ON CONFLICT DO NOTHING""")


_PENDING = "coreviz_dictionary_media"  # session.info: media whose words go in at commit


def add(session: Session, media_ids: Iterable[UUID]) -> None:
    """Add the words of these media's search documents to their organization's dictionary,
    when the transaction commits.

    Last, because a new word's row is locked until its transaction ends: added mid-transaction,
    two processing jobs deadlocked (one held a word the other was adding and waited for a media
    row the other had updated; PostgreSQL killed one, and its step failed). Just before the
    commit a transaction waits for nothing but words, taken in word order, so never in a
    cycle."""
    session.info.setdefault(_PENDING, set()).update(media_ids)


@event.listens_for(Session, "before_commit")
def _add_pending(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint's release: not the end yet
        return
    if ids := session.info.pop(_PENDING, None):
        session.execute(_ADD, {"ids": sorted(ids)})


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)

# What the statement says it counted for the corrections: nothing (NULL) when it had none to
# count, so a later search of the same state does not take "not broad" for an answer.
COUNTED = "CASE WHEN (SELECT tsq FROM near_tsq) IS NOT NULL THEN (SELECT yes FROM near_broad) END"


def ctes(scope_sql: str, visible: str, few: str) -> str:
    """CTEs (after `vec`, `best` and `fts`) ending in `near`: `(media_id, t)` rows of near
    misses, `t = 0.6 * word_similarity`, computed only while `few` holds (exact words found
    few items). `scope_sql` and `visible` are conditions on `m` (media)."""
    return f"""
corrected AS MATERIALIZED (
        SELECT DISTINCT c.word
          FROM coreviz_search_words(:q) qw(word)
          CROSS JOIN LATERAL (
                SELECT w.word FROM search_words w
                 WHERE w.organization_id = :org AND w.word % qw.word
                 ORDER BY similarity(w.word, qw.word) DESC, w.word
                 LIMIT {WORDS_PER_TYPO}) c
         WHERE {few}),
near_tsq AS (SELECT CASE WHEN count(*) > 0
                         THEN to_tsquery('english', string_agg(word || ':*', ' | ')) END AS tsq
               FROM corrected),
near_broad AS (SELECT coalesce(CAST(:near_broad AS boolean), (SELECT count(*) >= :text_cap
                 FROM (SELECT 1 FROM media m
                        WHERE {scope_sql} AND {visible}
                          AND m.search_vector @@ (SELECT tsq FROM near_tsq)
                        LIMIT :text_cap) capped)) AS yes),
near AS (
        SELECT m.id AS media_id, 0.6 * word_similarity(:q, m.search_text) AS t
          FROM media m
         WHERE NOT (SELECT yes FROM near_broad) AND {scope_sql} AND {visible}
           AND m.search_vector @@ (SELECT tsq FROM near_tsq)
           AND :q <% m.search_text AND NOT m.search_vector @@ to_tsquery('english', :tsq)
        UNION ALL
        -- Each vector candidate by its key: the planner cannot size a computed tsquery, and
        -- joining it took every item holding the corrections (trigrams on 20,000 of them).
        SELECT m.id, 0.6 * word_similarity(:q, m.search_text)
          FROM best b CROSS JOIN LATERAL (
                SELECT m.id, m.search_text FROM media m
                 WHERE m.id = b.media_id AND {visible}
                   AND m.search_vector @@ (SELECT tsq FROM near_tsq)
                   AND :q <% m.search_text
                   AND NOT m.search_vector @@ to_tsquery('english', :tsq)
                OFFSET 0) m
         WHERE (SELECT yes FROM near_broad))"""  # noqa: S608 - our own conditions
