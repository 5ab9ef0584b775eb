"""The search's statements run on their indexes, as the application's role under the policy:
the vector part on its HNSW index, words on the full-text index, typos on the dictionary's
trigram index and then the full-text index; never a sequential scan of media or embeddings.

The rows are written, analysed and planned in one transaction that is rolled back. What is
checked is that the planner CAN run each part on its index under the policy (the conditions
are leakproof, the model is a literal): a few thousand rows are enough for it to prefer the
full-text index, but at this size a sequential scan, or the organization's index and a sort,
is cheaper for the vectors and the dictionary, so those are turned off here (enable_seqscan,
and the other indexes of embeddings and the dictionary's key, dropped inside the transaction).
At 100,000 frames and more the planner picks the same indexes by itself (bench/search.py,
docs/speed.md).
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

from coreviz_studio.db.rls import APP_ROLE, scope_session
from coreviz_studio.search import near_words, scoring
from tests.library import Library

ITEMS = 3000
MODEL, DIM = "all-minilm-l6-v2", 384
HNSW = "embeddings_all_minilm_l6_v2_hnsw"

# Each item's document: its own word (so the dictionary has thousands of words) and two of a
# hundred shared words, so any word matches a few dozen items: an index's job, not a scan's.
_MEDIA = text("""
INSERT INTO media (id, organization_id, dataset_id, type, name, path, root_id,
                   is_active_version, status, search_text, mime_type)
SELECT id, :org, :ds, 'image', 'item' || n || '.jpg',
       text2ltree(:root || '.' || replace(id::text, '-', '')), id, true, 'active',
       'item ' || n || ' ' || own || ' ' || shared[1 + n % 100] || ' ' || shared[1 + n * 7 % 100],
       'image/jpeg'
  FROM (SELECT n, gen_random_uuid() AS id,
               'word' || translate(n::text, '0123456789', 'abcdefghij') AS own
          FROM generate_series(1, :items) n) s,
       (SELECT array_agg('thing' || translate(k::text, '0123456789', 'klmnopqrst')) AS shared
          FROM generate_series(1, 100) k) w
RETURNING id""")
_FRAMES = text("""
INSERT INTO frames (id, organization_id, media_id, frame_index, timestamp)
SELECT gen_random_uuid(), organization_id, id, 0, 0 FROM media WHERE dataset_id = :ds""")
_EMBEDDINGS = text("""
INSERT INTO embeddings (organization_id, dataset_id, media_id, frame_id, kind, model, dim,
                        embedding)
SELECT f.organization_id, :ds, f.media_id, f.id, 'text', :model, :dim,
       (SELECT array_agg(random() - 0.5)::real[]::vector FROM generate_series(1, :dim)
         WHERE f.id IS NOT NULL)  -- correlated: a new vector per row
  FROM frames f JOIN media m ON m.id = f.media_id WHERE m.dataset_id = :ds""")

# Every other index of embeddings: at this size a full scan of any of them and a sort is
# cheaper than the HNSW walk, and which one wins depends on what the suite's earlier tests
# left in the table (in CI, a plan without the HNSW index came out once).
_ORG_LEADING = text("""
SELECT i.indexrelid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE i.indrelid = 'embeddings'::regclass AND NOT i.indisprimary
   AND c.relname NOT LIKE '%\\_hnsw' ESCAPE '\\'""")
_INDEXED_CONSTRAINTS = text("""
SELECT conname FROM pg_constraint
 WHERE conrelid = 'embeddings'::regclass AND contype IN ('p', 'u')""")


@pytest.fixture(scope="module")
def collection(shared_client, make_member_module) -> tuple[uuid.UUID, uuid.UUID, str]:  # type: ignore[no-untyped-def]
    owner = make_member_module()
    lib = Library(shared_client, owner)
    return owner.org_id, uuid.UUID(lib.id), lib.root


def _plans(database: Any, collection: tuple[uuid.UUID, uuid.UUID, str],
           queries: dict[str, str]) -> dict[str, str]:
    """EXPLAIN each query's candidates statement (scoring.hybrid, as `GET ?q=` runs it) with
    the rows written, as the app role scoped to the organization; all rolled back."""
    org, ds, root = collection
    rng = np.random.default_rng(3)
    vector = rng.normal(0, 1, DIM).astype(np.float32)
    plans = {}
    with database.system_sessions() as s:
        ids = s.scalars(_MEDIA, {"org": org, "ds": ds, "root": root, "items": ITEMS}).all()
        s.execute(_FRAMES, {"ds": ds})
        s.execute(_EMBEDDINGS, {"ds": ds, "model": MODEL, "dim": DIM})
        near_words.add(s, ids)
        s.execute(text("ANALYZE media, frames, embeddings, search_words"))
        s.execute(text("ALTER TABLE search_words DROP CONSTRAINT search_words_pkey"))
        for constraint in s.scalars(_INDEXED_CONSTRAINTS).all():
            s.execute(text(f"ALTER TABLE embeddings DROP CONSTRAINT {constraint}"))
        for index in s.scalars(_ORG_LEADING).all():
            s.execute(text(f"DROP INDEX {index}"))
        s.execute(text(f"SET LOCAL ROLE {APP_ROLE}"))
        scope_session(s, org)
        scoring.tune(s, 100, 20_000)
        s.execute(text("SET LOCAL enable_seqscan = off"))
        for name, q in queries.items():
            clause = scoring.hybrid(q, [scoring.QueryVector(MODEL, "text", vector)],
                                    scoring.Scope(org, ds), candidates=100, min_similarity=0.15)
            plans[name] = _explain(s, clause)
        s.rollback()
    return plans


def _explain(session: Session, clause: TextClause) -> str:
    explained = text("EXPLAIN " + clause.text).bindparams(*clause._bindparams.values())
    return "\n".join(session.execute(explained).scalars())


def test_words_typos_and_vectors_run_on_their_indexes(database, collection) -> None:  # type: ignore[no-untyped-def]
    plans = _plans(database, collection, {
        "word": "thingkl",  # a shared word: in 30 items
        "typo": "thingkml",  # no such word; "thingkl" and "thingml" are near it
        "two typos": "wordbcd thingqq",
    })
    for name, plan in plans.items():
        assert HNSW in plan, (name, plan)  # the vector part
        assert "media_search_fts" in plan, (name, plan)  # exact words
        for table in ("media", "frames", "embeddings", "search_words"):
            assert f"Seq Scan on {table} " not in plan, (name, table, plan)
    for name in ("typo", "two typos"):  # corrected against the dictionary by its index
        assert "search_words_trgm" in plans[name], plans[name]
