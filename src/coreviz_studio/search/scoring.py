"""The scored candidates of a search, as SQL: `(media_id, frame_id, score)` rows.

Hybrid text search fuses, per media:
- vector similarity between the query's embedding and its frames' embeddings (the text model's
  embedding of each frame's caption, labels and text; and CLIP's image embeddings when a CLIP
  model is installed), best frame wins, which also says which frame matched;
- PostgreSQL full text over the media's search document (prefix matching for partial words);
- trigram word similarity over the same document (typos), for the items holding words near the
  query's in the organization's dictionary (search/near_words.py).

Find-similar ranks media by their nearest object (or frame) to a given object's embedding.

Vector parts run on pgvector's HNSW indexes with iterative scans, so organization and
collection filters are applied inside the index scan and still fill the candidate list. The
indexes are partial per model over `embedding::vector(dim)`, so the model name and dimension
are written into the SQL as literals (checked against a strict pattern), never bound: a bound
value would hide the index from generic plans.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pgvector.sqlalchemy import Vector
from sqlalchemy import Float, bindparam, column, func, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

from coreviz_studio.search import near_words
from coreviz_studio.understanding import query_words

_MODEL_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_WORD = re.compile(r"\w+", re.UNICODE)
MAX_WORDS = 32
TRGM_CHARS = 200  # trigram similarity reads the start of a long query only

# How the parts add up to `_score` (0..1). Vector similarity carries meaning (synonyms, "kitty"
# for a cat); the text part rewards words: an exact (prefix) word match scores 0.6 to 1 by its
# rank, a near miss (a typo, by trigrams) up to 0.6.
W_TEXT = 0.2  # the vector part weighs 1 - W_TEXT (chosen by bench/search_quality.py)
TYPO_FALLBACK_BELOW = 50
# Words matching at least this many items only re-rank the vector candidates (see `hybrid`).
BROAD_WORDS = 10_000


@dataclass(frozen=True)
class QueryVector:
    """The query embedded by one model, to be compared with frames' `kind` embeddings."""

    model: str
    kind: str  # "text" (frame descriptions) or "image" (CLIP frame embeddings)
    vector: np.ndarray


@dataclass(frozen=True)
class Scope:
    organization_id: uuid.UUID
    dataset_id: uuid.UUID | None  # None: every collection of the organization


def tune(session: Session, ef_search: int, max_scan_tuples: int) -> None:
    """Settings for this transaction's vector scans: iterative scans keep filtered queries
    returning full candidate lists; ef_search trades speed for recall."""
    session.execute(text("SELECT set_config('hnsw.ef_search', :ef, true), "
                         "set_config('hnsw.iterative_scan', 'relaxed_order', true), "
                         "set_config('hnsw.max_scan_tuples', :tuples, true), "
                         "set_config('pg_trgm.word_similarity_threshold', '0.5', true)"),
                    {"ef": str(int(ef_search)), "tuples": str(int(max_scan_tuples))})


def ts_query(q: str) -> str:
    """`word:* | word:*` from the query's words: any word, prefixes allowed; quotes, `%`,
    `_`, backslashes and operators are simply not words."""
    words = query_words.content([w.lower() for w in _WORD.findall(q)])[:MAX_WORDS]
    return " | ".join(f"{w}:*" for w in dict.fromkeys(words))


def _literal_model(model: str) -> str:
    if not _MODEL_NAME.match(model):
        raise ValueError(f"unexpected model name {model!r}")
    return f"'{model}'"


def _scope_sql(alias: str, scope: Scope) -> str:
    sql = f"{alias}.organization_id = :org"
    return sql + (f" AND {alias}.dataset_id = :ds" if scope.dataset_id else "")


def hybrid(q: str, vectors: list[QueryVector], scope: Scope, candidates: int,
           min_similarity: float, w_text: float = W_TEXT,
           text_cap: int = BROAD_WORDS,
           known: tuple[bool | None, bool | None] = (None, None)) -> TextClause:
    """Scored candidates for a text query (see the module docstring). `known`: whether the
    words and their typos' corrections are broad, when a search of the same state counted it
    (search/broad_words.py); each row also says what was counted (`broad`, `near_broad`)."""
    parts: list[str] = []
    params: dict[str, object] = {"org": scope.organization_id, "ds": scope.dataset_id,
                                 "k": candidates, "min_sim": min_similarity,
                                 "q": query_words.for_trigrams(q)[:TRGM_CHARS], "tsq": ts_query(q),
                                 "w_vec": 1.0 - w_text, "w_text": w_text,
                                 "text_cap": text_cap, "broad": known[0],
                                 "near_broad": known[1]}
    for i, qv in enumerate(vectors):
        dim = int(qv.vector.shape[0])
        params[f"v{i}"] = qv.vector
        params[f"kind{i}"] = qv.kind
        parts.append(f"""(SELECT e.media_id, e.frame_id,
                   e.embedding::vector({dim}) <=> CAST(:v{i} AS vector({dim})) AS d
              FROM embeddings e
             WHERE e.model = {_literal_model(qv.model)} AND e.kind = :kind{i}
               AND {_scope_sql('e', scope)}
             ORDER BY e.embedding::vector({dim}) <=> CAST(:v{i} AS vector({dim}))
             LIMIT :k)""")  # noqa: S608 - literals are checked
    vec = " UNION ALL ".join(parts) or (
        "SELECT NULL::uuid AS media_id, NULL::uuid AS frame_id, NULL::float8 AS d WHERE false")
    sql = f"""
WITH vec AS MATERIALIZED ({vec}),
best AS (SELECT DISTINCT ON (media_id) media_id, frame_id, 1 - d AS sim
           FROM vec ORDER BY media_id, d),
-- Words found in more than :text_cap items tell little and would cost a rank for each of
-- them: then they only re-rank the vector candidates. Counting stops at the cap.
broad AS (SELECT coalesce(CAST(:broad AS boolean), (SELECT count(*) >= :text_cap
            FROM (SELECT 1 FROM media m
                   WHERE {_scope_sql('m', scope)} AND m.status = 'active' AND m.is_active_version
                     AND m.search_vector @@ to_tsquery('english', :tsq)
                   LIMIT :text_cap) capped)) AS yes),
fts AS MATERIALIZED (
        SELECT m.id AS media_id,
               0.6 + 0.4 * ts_rank_cd(m.search_vector, to_tsquery('english', :tsq), 32) AS t
          FROM media m
         WHERE NOT (SELECT yes FROM broad)
           AND {_scope_sql('m', scope)} AND m.status = 'active' AND m.is_active_version
           AND m.search_vector @@ to_tsquery('english', :tsq)
        UNION ALL
        SELECT m.id, 0.6 + 0.4 * ts_rank_cd(m.search_vector, to_tsquery('english', :tsq), 32)
          FROM best b JOIN media m ON m.id = b.media_id
         WHERE (SELECT yes FROM broad) AND m.status = 'active' AND m.is_active_version
           AND m.search_vector @@ to_tsquery('english', :tsq)),
{near_words.ctes(_scope_sql('m', scope), "m.status = 'active' AND m.is_active_version",
                 f"(SELECT count(*) FROM fts) < {TYPO_FALLBACK_BELOW}")},
txt AS (SELECT media_id, t FROM fts
        UNION ALL
        -- Near misses (typos), only while exact words found few items: trigram similarity
        -- is the costly part, and with many exact matches a near miss would rank below them.
        SELECT media_id, t FROM near)
SELECT coalesce(b.media_id, t.media_id) AS media_id,
       CASE WHEN b.sim >= :min_sim THEN b.frame_id END AS frame_id,
       (:w_vec * CASE WHEN b.sim >= :min_sim THEN b.sim ELSE 0 END
        + :w_text * coalesce(t.t, 0))::float8 AS score,
       (SELECT yes FROM broad) AS broad, {near_words.COUNTED} AS near_broad,
       b.sim::float8 AS sim, t.t::float8 AS words  -- for understanding/cutoff.py
  FROM best b FULL JOIN txt t ON t.media_id = b.media_id
 WHERE b.sim >= :min_sim OR t.media_id IS NOT NULL"""  # noqa: S608 - literals are checked
    return _typed(sql, params)


def similar(vector: np.ndarray, model: str, table: str, scope: Scope, candidates: int,
            exclude: uuid.UUID, object_type: str | None) -> TextClause:
    """Scored candidates nearest to `vector`: over objects of `model` (faces, objects), or
    over frames' image embeddings (`table="embeddings"`)."""
    dim = int(vector.shape[0])
    params: dict[str, object] = {"org": scope.organization_id, "ds": scope.dataset_id,
                                 "k": candidates, "exclude": exclude,
                                 "v": vector}
    if table == "objects":
        where = f"x.embedding_model = {_literal_model(model)} AND x.id <> :exclude"
        if object_type:
            where += " AND x.type = :otype"
            params["otype"] = object_type
    else:
        where = f"x.model = {_literal_model(model)} AND x.kind = 'image' AND x.frame_id <> :exclude"
    sql = f"""
WITH near AS MATERIALIZED (
    SELECT x.media_id, x.frame_id, x.embedding::vector({dim}) <=> CAST(:v AS vector({dim})) AS d
      FROM {'objects' if table == 'objects' else 'embeddings'} x
     WHERE {where} AND {_scope_sql('x', scope)}
     ORDER BY x.embedding::vector({dim}) <=> CAST(:v AS vector({dim}))
     LIMIT :k)
SELECT DISTINCT ON (media_id) media_id, frame_id, (1 - d)::float8 AS score
  FROM near ORDER BY media_id, d"""  # noqa: S608 - literals are checked
    return _typed(sql, params)


_VECTOR_PARAM = re.compile(r"^v\d*$")


def _typed(sql: str, params: dict[str, object]) -> TextClause:
    """text(sql) with the parameters it uses (ids as UUIDs, query vectors as pgvector's)."""
    binds = []
    for name, value in params.items():
        if not re.search(rf":{name}\b", sql):
            continue
        if name in ("org", "ds", "exclude"):
            binds.append(bindparam(name, value, type_=UUID(as_uuid=True)))
        elif _VECTOR_PARAM.match(name):
            binds.append(bindparam(name, value, type_=Vector()))
        else:
            binds.append(bindparam(name, value))
    return text(sql).bindparams(*binds)


def found(session: Session, clause: TextClause,
          seen: Callable[[Sequence[Any]], None] | None = None,
          keep: Callable[[Sequence[Any]], Sequence[Any]] | None = None) -> Any:
    """Run the candidates query, then hand its rows back as a small table to join with the
    media filters. Two steps on purpose: the planner cannot size the candidates (at most the
    vector candidates plus fewer than BROAD_WORDS text matches), and joined in one statement
    it walked a million media rows to meet a few hundred."""
    rows = session.execute(clause).all()
    if seen is not None:  # every candidate, before any is dropped (search/broad_words.py)
        seen(rows)
    if keep is not None:  # understanding/cutoff.py: only what is relevant at all
        rows = keep(rows)
    ids = [r.media_id for r in rows]
    frames = [r.frame_id for r in rows]
    scores = [float(r.score) for r in rows]
    table = func.unnest(
        bindparam("cand_ids", ids, type_=ARRAY(UUID(as_uuid=True))),
        bindparam("cand_frames", frames, type_=ARRAY(UUID(as_uuid=True))),
        bindparam("cand_scores", scores, type_=ARRAY(Float)),
    ).table_valued(column("media_id", UUID(as_uuid=True)), column("frame_id", UUID(as_uuid=True)),
                   column("score", Float))
    return table.render_derived(name="scored")
