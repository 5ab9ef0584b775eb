"""Whether a query's words are broad, remembered while the collections searched are unchanged.

A search asks whether its words (and its typos' corrections, search/near_words.py) are found in
`scoring.BROAD_WORDS` items or more, to decide between ranking every match and re-ranking the
vector candidates. Counting stops at the cap, but the full-text index hands over the whole
posting list of a common word first: a word in 900,000 items cost most of a search at 1M
frames. The answer depends only on the query and the media of the searched collections, so it
is kept per (scope, query, state), the state being every searched collection's
`browse_generation`, which moves with each committed change of its media (migration 0013). A
page of the same search, or the same search asked again, skips both counts; any change to the
collections makes a new state and a new count. The state is read one statement before the
search's (read committed): a change committing in between is seen by the next request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from coreviz_studio.lru import Lru

Key = tuple[str, str, str, int]
Known = tuple[bool | None, bool | None]  # (the query's words, their corrections); None: count

# The visible collections in scope (row-level security applies) and their generations, in one
# value: two scopes (a collection-scoped key) or two states never share it.
_STATE = text("""
SELECT md5(coalesce(string_agg(id::text || ':' || browse_generation, ',' ORDER BY id), ''))
  FROM datasets WHERE organization_id = :org AND (CAST(:ds AS uuid) IS NULL OR id = :ds)""")

_known: Lru[Key, Known] = Lru(4096)


def key(session: Session, organization_id: Any, dataset_id: Any, q: str, cap: int) -> Key:
    state = session.scalar(_STATE, {"org": organization_id, "ds": dataset_id}) or ""
    return (str(organization_id), state, q, cap)


def known(k: Key) -> Known:
    return _known.get(k) or (None, None)


def learn(k: Key, rows: Sequence[Any]) -> None:
    """Remember what the search's statement counted (its rows' `broad` and `near_broad`)."""
    if rows:
        _known.put(k, (rows[0].broad, rows[0].near_broad))
