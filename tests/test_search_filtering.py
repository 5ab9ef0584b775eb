"""Vector search filters inside the index scan: a small collection beside a big one of the same
organization still gets full candidate lists (pgvector iterative scans)."""

from __future__ import annotations

import uuid

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from coreviz_studio.search import scoring

MODEL = "all-minilm-l6-v2"


def _fill(session: Session, org: uuid.UUID, ds: uuid.UUID, vectors: np.ndarray) -> None:
    """One media with one frame and one text embedding per vector (each table in one batch)."""
    rows = [{"m": uuid.uuid4(), "f": uuid.uuid4(), "o": org, "d": ds, "model": MODEL,
             "v": "[" + ",".join(map(str, vector)) + "]"} for vector in vectors]
    for row in rows:
        row["p"] = f"{ds.hex}.{row['m'].hex}"
    session.execute(text(
        "INSERT INTO media (id, organization_id, dataset_id, type, name, path, root_id) "
        "VALUES (:m, :o, :d, 'image', 'x.jpg', text2ltree(:p), :m)"), rows)
    session.execute(text(
        "INSERT INTO frames (id, organization_id, media_id, frame_index) "
        "VALUES (:f, :o, :m, 0)"), rows)
    session.execute(text(
        "INSERT INTO embeddings (organization_id, dataset_id, media_id, frame_id, kind, "
        "model, dim, embedding) VALUES (:o, :d, :m, :f, 'text', :model, 384, :v)"), rows)


def test_a_small_collection_gets_a_full_candidate_list(database, make_member) -> None:  # type: ignore[no-untyped-def]
    member = make_member()
    rng = np.random.default_rng(3)
    centre = rng.normal(size=384)
    big = centre + rng.normal(scale=0.3, size=(1500, 384))  # all near the query
    small = rng.normal(size=(30, 384))  # far from it
    big /= np.linalg.norm(big, axis=1, keepdims=True)
    small /= np.linalg.norm(small, axis=1, keepdims=True)
    with database.system_sessions() as s:
        big_ds, small_ds = uuid.uuid4(), uuid.uuid4()
        for ds, name in ((big_ds, "big"), (small_ds, "small")):
            s.execute(text("INSERT INTO datasets (id, organization_id, name) VALUES (:d, :o, :n)"),
                      {"d": ds, "o": member.org_id, "n": name})
        _fill(s, member.org_id, big_ds, big)
        _fill(s, member.org_id, small_ds, small)
        s.commit()
        query = scoring.QueryVector(MODEL, "text", (centre / np.linalg.norm(centre)).astype(
            np.float32))
        scoring.tune(s, 40, 20_000)
        # A table this small would otherwise be read exactly (seq scan, or the scope index and
        # a sort); the HNSW scan is what is tested: without iterative scans it returns 0 rows.
        s.execute(text("SET LOCAL enable_seqscan = off"))
        s.execute(text("SET LOCAL enable_bitmapscan = off"))
        s.execute(text("SET LOCAL enable_sort = off"))
        rows = s.execute(scoring.hybrid("", [query], scoring.Scope(member.org_id, small_ds),
                                        candidates=25, min_similarity=-1.0)).all()
        assert len(rows) == 25  # not the few of the 40 nearest that happen to be small's
        s.rollback()
