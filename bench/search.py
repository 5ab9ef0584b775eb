"""Vector search latency and recall at 100,000 and 1,000,000 frames.

For each size, starts a real server on a temp data dir and writes straight into its embedded
PostgreSQL: media (one frame each, with a search document), frames, and one 384-d text
embedding per frame (the all-MiniLM-L6-v2 slot), clustered like real embeddings (1,000 random
centres plus noise, unit length), copied in binary. The collection holds 90% of the frames; a
second collection of the same organization holds 10%, so scoping to it exercises filtering
inside the index. The HNSW index is built after loading (as a restore would), with 2 parallel
workers.

Then, for 30 query vectors near the data:
- the search's own SQL (search/scoring.py: vector part, full text and trigrams, as `q` runs),
  p50/p99 per scope, and recall@10 of its media against exact top-10 computed with numpy;
- the same at several ef_search values;
- `GET /api/dataset/{id}/media?q=...` end to end (query embedding, SQL, page of 10 items).

The baseline is the search's own SQL; the end-to-end figures (`<size>_end_to_end_p50_ms`, ...)
are compared with it at p99 (`<size>_end_to_end_p99_ratio`). Prints figures and a last line
`RESULT {json}`; nothing is asserted. Run from the repository root:
    .venv/bin/python -m bench.search [--sizes 100000,1000000] [--keep DIR] [--cache warm|cold]
With --cache warm (the default) the library's tables and indexes are first read into
PostgreSQL's cache (bench/browse.py `warm`), as much of them as it holds.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from pathlib import Path

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from bench._server import Bench, percentile, running
from bench.browse import warm
from coreviz_studio.db.embedded import EmbeddedPostgres
from coreviz_studio.db.session import sqlalchemy_url
from coreviz_studio.search import scoring

DIM = 384
MODEL = "all-minilm-l6-v2"
CENTRES = 1000
QUERIES = 30
SMALL_SHARE = 10  # every 10th frame goes to the second collection

_MEDIA_SQL = f"""
INSERT INTO media (id, organization_id, dataset_id, type, name, path, root_id, is_active_version,
                   status, search_text, mime_type, width, height)
SELECT id, %(org)s::uuid, ds, 'image', 'IMG_' || n || '.jpg',
       text2ltree(replace(ds::text, '-', '') || '.' || replace(id::text, '-', '')),
       id, true, 'active',
       'IMG ' || n || ' a ' || (ARRAY['red', 'blue', 'green', 'quiet', 'busy'])[1 + n %% 5]
       || ' scene with '
       || (ARRAY['people', 'a dog', 'trees', 'a car', 'the sea'])[1 + n %% 7 %% 5],
       'image/jpeg', 1024, 768
FROM (SELECT n, gen_random_uuid() AS id,
             CASE WHEN n %% {SMALL_SHARE} = 0 THEN %(small)s::uuid ELSE %(ds)s::uuid END AS ds
        FROM generate_series(%(lo)s, %(hi)s) n) s
"""
_FRAMES_SQL = """
INSERT INTO frames (id, organization_id, media_id, frame_index, timestamp, width, height)
SELECT gen_random_uuid(), organization_id, id, 0, 0, 1024, 768 FROM media
 WHERE organization_id = %(org)s AND type = 'image'
"""

# The dictionary typos are corrected against (search/near_words.py), for the media written above.
_WORDS_SQL = """
INSERT INTO search_words (organization_id, word)
SELECT DISTINCT m.organization_id, w.word FROM media m, coreviz_search_words(m.search_text) w(word)
 WHERE m.organization_id = %(org)s ON CONFLICT DO NOTHING
"""


def clustered(rng: np.random.Generator, centres: np.ndarray, n: int) -> np.ndarray:
    picks = rng.integers(0, len(centres), n)
    vectors = centres[picks] + rng.normal(0, 0.045, (n, DIM)).astype(np.float32)
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


_ROWS_SQL = ("SELECT f.id, f.media_id, m.dataset_id FROM frames f JOIN media m"
             " ON m.id = f.media_id WHERE f.organization_id = %s ORDER BY f.id")
_SIZES_SQL = """
SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c
 WHERE c.relnamespace = 'public'::regnamespace
   AND c.relname IN ('media', 'frames', 'embeddings', %(hnsw)s, 'media_search_trgm',
                     'media_search_fts', 'search_words', 'search_words_trgm')
UNION ALL SELECT 'database', pg_database_size(current_database())"""


def load(b: Bench, size: int, small: str) -> tuple[np.ndarray, list[uuid.UUID], list[uuid.UUID],
                                                  np.ndarray, dict[str, float]]:
    """Write `size` frames (or, in a kept library, read back what an earlier run wrote);
    returns (vectors, their media ids, their dataset ids, centres, figures: load and HNSW
    build seconds, table and index sizes in MB)."""
    pg = EmbeddedPostgres(b.data_dir)
    url = pg.acquire()
    rng = np.random.default_rng(7)
    centres = rng.normal(0, 1, (CENTRES, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            register_vector(conn)
            if b.reused:  # the same seed over the same rows gives the same vectors
                rows = conn.execute(_ROWS_SQL, (b.org_id,)).fetchall()
                vectors = clustered(rng, centres, len(rows))
                figures = {k: v for k, v in json.loads(
                    (b.root / "search.json").read_text())["figures"].items()
                    if not k.endswith("_mb")}  # migrations since may have changed them
                figures.update(_sizes(conn, size))
                print(f"\n== {len(rows):,} frames: reusing the library kept in {b.root}")
                return (vectors, [r[1] for r in rows], [r[2] for r in rows], centres, figures)
            started = time.perf_counter()
            conn.execute(f"DROP INDEX IF EXISTS embeddings_{MODEL.replace('-', '_')}_hnsw")
            step = 200_000
            for lo in range(1, size + 1, step):
                conn.execute(_MEDIA_SQL, {"org": b.org_id, "ds": b.dataset_id, "small": small,
                                          "lo": lo, "hi": min(lo + step - 1, size)})
            conn.execute(_FRAMES_SQL, {"org": b.org_id})
            conn.execute(_WORDS_SQL, {"org": b.org_id})  # as search/document.py would
            rows = conn.execute(_ROWS_SQL, (b.org_id,)).fetchall()
            vectors = clustered(rng, centres, len(rows))
            with conn.cursor().copy(
                    "COPY embeddings (organization_id, dataset_id, media_id, frame_id, kind, "
                    "model, dim, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(["uuid", "uuid", "uuid", "uuid", "varchar", "text", "int4",
                                "vector"])
                org = uuid.UUID(b.org_id)
                for (frame_id, media_id, dataset_id), vector in zip(rows, vectors, strict=True):
                    copy.write_row((org, dataset_id, media_id, frame_id, "text", MODEL, DIM,
                                    vector))
            loaded = time.perf_counter() - started
            conn.execute("SET maintenance_work_mem = '2GB'")
            conn.execute("SET max_parallel_maintenance_workers = 2")
            started = time.perf_counter()
            conn.execute(f"CREATE INDEX embeddings_{MODEL.replace('-', '_')}_hnsw ON embeddings "
                         f"USING hnsw ((embedding::vector({DIM})) vector_cosine_ops) "
                         f"WHERE model = '{MODEL}'")
            built = time.perf_counter() - started
            conn.execute("VACUUM (ANALYZE) media, frames, embeddings")
            sizes = _sizes(conn, size)
        print(f"\n== {len(rows):,} frames: loaded in {loaded:.0f} s, HNSW built in {built:.0f} s")
        print("sizes (MB): " + ", ".join(f"{k} {v:,.1f}" for k, v in sizes.items()))
        figures = {f"{size}_load_s": round(loaded, 1), f"{size}_hnsw_build_s": round(built, 1),
                   **sizes}
        return (vectors, [r[1] for r in rows], [r[2] for r in rows], centres, figures)
    finally:
        pg.release()


def _sizes(conn: psycopg.Connection, size: int) -> dict[str, float]:
    """Table and index sizes in MB, keyed `<size>_<name>_mb`."""
    hnsw = f"embeddings_{MODEL.replace('-', '_')}_hnsw"
    return {f"{size}_{'hnsw' if name == hnsw else name}_mb": round(n / 2**20, 1)
            for name, n in conn.execute(_SIZES_SQL, {"hnsw": hnsw}).fetchall()}


def measure_sql(b: Bench, vectors: np.ndarray, media: list[uuid.UUID], datasets: list[uuid.UUID],
                queries: np.ndarray, scope_ds: str, ef: int) -> tuple[float, float, float, float]:
    """p50 ms, p99 ms, recall@10 of media, mean results, for queries scoped to `scope_ds`."""
    pg = EmbeddedPostgres(b.data_dir)
    engine = create_engine(sqlalchemy_url(pg.acquire()))
    mask = np.array([str(d) == scope_ds for d in datasets])
    scoped_vectors = vectors[mask]
    scoped_media = np.array(media, dtype=object)[mask]
    scope = scoring.Scope(uuid.UUID(b.org_id), uuid.UUID(scope_ds))
    times: list[float] = []
    recalls: list[float] = []
    counts: list[int] = []
    try:
        for i, query in enumerate(queries):
            clause = scoring.hybrid("zqxv", [scoring.QueryVector(MODEL, "text", query)], scope,
                                    candidates=100, min_similarity=-1.0)
            with Session(engine) as session:
                scoring.tune(session, ef, 20_000)
                started = time.perf_counter()
                rows = session.execute(clause).all()
                elapsed = (time.perf_counter() - started) * 1000
            if i >= 3:  # warm-up
                times.append(elapsed)
            got = [r.media_id for r in sorted(rows, key=lambda r: -r.score)[:10]]
            exact = scoped_media[np.argsort(-(scoped_vectors @ query))[:10]]
            recalls.append(len(set(got) & set(exact)) / 10)
            counts.append(len(rows))
    finally:
        engine.dispose()
        pg.release()
    return (percentile(times, 50), percentile(times, 99), float(np.mean(recalls)),
            float(np.mean(counts)))


# What people type at this data (bench documents: "IMG <n> a <colour> scene with <thing>"):
# words, and typos of them (or of nothing here: "invoce"), which take the near-words path.
WORDS = ["red scene", "a dog", "quiet trees", "busy car", "the sea", "green people", "blue",
         "scene", "IMG 4242", "trees with people", "car", "sea", "red", "people"]
TYPOS = ["dgo", "peolpe", "scnee", "tress", "gren", "quiet tres", "the see", "blu car", "bsy",
         "invoce", "treees", "car peple", "gren sea", "scene wiht"]
ROUNDS = 3  # the first asks each query once (its embedding computed), the others repeat it


def measure_api(b: Bench, path: str, words: list[str], limit: int) -> tuple[float, float, float]:
    """p50 and p99 ms over every round, and p50 of the first round (no cached embedding)."""
    for word in ("warm", "up", "now"):
        b.client.get(path, params={"q": word, "limit": limit}).raise_for_status()
    times: list[float] = []
    for _ in range(ROUNDS):
        for word in words:
            started = time.perf_counter()
            r = b.client.get(path, params={"q": word, "limit": limit})
            r.raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    return percentile(times, 50), percentile(times, 99), percentile(times[:len(words)], 50)


def measure_q_sql(b: Bench, words: list[str], queries: np.ndarray) -> tuple[float, float]:
    """The bare SQL of `GET ?q=<word>&limit=10` (the candidates statement, then the page
    joined with the media, as search/scored.py runs them) as the database owner (no RLS), with
    a query vector from the data's distribution: p50 and p99 ms."""
    pg = EmbeddedPostgres(b.data_dir)
    engine = create_engine(sqlalchemy_url(pg.acquire()))
    scope = scoring.Scope(uuid.UUID(b.org_id), uuid.UUID(b.dataset_id))
    times: list[float] = []
    try:
        for i, word in enumerate(words * ROUNDS):
            vector = scoring.QueryVector(MODEL, "text", queries[i % QUERIES])
            clause = scoring.hybrid(word, [vector], scope, candidates=500, min_similarity=0.15)
            with Session(engine) as session:
                scoring.tune(session, 100, 20_000)
                started = time.perf_counter()
                rows = session.execute(clause).all()
                session.execute(_PAGE_SQL, {"ids": [r.media_id for r in rows],
                                            "scores": [float(r.score) for r in rows],
                                            "org": b.org_id, "ds": b.dataset_id}).all()
                times.append((time.perf_counter() - started) * 1000)
    finally:
        engine.dispose()
        pg.release()
    return percentile(times, 50), percentile(times, 99)


_PAGE_SQL = text("""
SELECT m.*, s.score, count(*) OVER () AS total
  FROM unnest(CAST(:ids AS uuid[]), CAST(:scores AS float8[])) s(media_id, score)
  JOIN media m ON m.id = s.media_id
 WHERE m.organization_id = CAST(:org AS uuid) AND m.dataset_id = CAST(:ds AS uuid)
   AND m.status = 'active' AND m.is_active_version
 ORDER BY s.score DESC, m.id LIMIT 10""")


def run(size: int, keep: Path | None, efs: list[int], cache: str = "warm") -> dict[str, float]:
    """Figures for one size, keyed `<size>_...`: the search's own SQL (the baseline) per scope
    and ef_search, and the API end to end, with their ratio at p99."""
    figures: dict[str, float] = {}
    with running("cvs-bench-search-", keep=keep and keep / str(size)) as b:
        if b.reused:
            small = json.loads((b.root / "search.json").read_text())["small"]
        else:
            r = b.client.post(f"/api/organization/{b.org_id}/datasets", json={"name": "small"})
            small = r.json()["id"]
        vectors, media, datasets, centres, loaded = load(b, size, small)
        if keep is not None and not b.reused:
            (b.root / "search.json").write_text(json.dumps({"small": small, "figures": loaded}))
        figures.update(loaded)
        if cache == "warm":
            warm(b)
        rng = np.random.default_rng(11)
        queries = clustered(rng, centres, QUERIES)
        print(f"{'scope':<34} {'ef_search':>9} {'p50 ms':>8} {'p99 ms':>8} {'recall@10':>10}"
              f" {'results':>8}")
        for label, scope in (("collection (90% of the frames)", b.dataset_id),
                             ("small collection (10%)", small)):
            for ef in efs:
                p50, p99, recall, count = measure_sql(b, vectors, media, datasets, queries,
                                                      scope, ef)
                print(f"{label:<34} {ef:>9} {p50:>8.1f} {p99:>8.1f} {recall:>10.3f}"
                      f" {count:>8.0f}")
                key = f"{size}_{'collection' if scope == b.dataset_id else 'small'}_ef{ef}"
                figures.update({f"{key}_sql_p50_ms": round(p50, 1),
                                f"{key}_sql_p99_ms": round(p99, 1),
                                f"{key}_recall_at_10": round(recall, 3)})
        bare: dict[str, tuple[float, float]] = {}
        for label, words in (("words", WORDS), ("typos", TYPOS)):
            bare[label] = measure_q_sql(b, words, queries)
        print(f"\n{'end to end':<44} {'p50 ms':>8} {'p99 ms':>8} {'first p50':>10}"
              f" {'bare SQL p50/p99':>17} {'p99 ratio':>9}")
        dataset_path = f"/api/dataset/{b.dataset_id}/media"
        for label, path, words, limit in (("words", dataset_path, WORDS, 10),
                                          ("typos", dataset_path, TYPOS, 10),
                                          ("api_search", "/api/search", WORDS + TYPOS, 20)):
            p50, p99, first = measure_api(b, path, words, limit)
            key = f"{size}_end_to_end_{label}"
            figures.update({f"{key}_p50_ms": round(p50, 1), f"{key}_p99_ms": round(p99, 1),
                            f"{key}_first_p50_ms": round(first, 1)})
            line = f"{label:<10} GET {path.split('/')[2]}?q=&limit={limit}"
            sql = ""
            if label in bare:
                sql_p50, sql_p99 = bare[label]
                figures[f"{size}_q_{label}_sql_p50_ms"] = round(sql_p50, 1)
                figures[f"{size}_q_{label}_sql_p99_ms"] = round(sql_p99, 1)
                figures[f"{key}_p99_ratio"] = round(p99 / max(sql_p99, 1e-9), 2)
                sql = f"{sql_p50:>8.1f} {sql_p99:>8.1f} {figures[f'{key}_p99_ratio']:>9}"
            print(f"{line:<44} {p50:>8.1f} {p99:>8.1f} {first:>10.1f} {sql}")
        with open("/proc/loadavg") as f:
            figures[f"{size}_load_average"] = float(f.read().split()[0])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--ef", default="40,100,200",
                        help="ef_search values the vector part alone is timed at")
    parser.add_argument("--keep", type=Path, default=None,
                        help="a directory to keep the generated libraries in (one per size) and"
                             " reuse on the next run with the same --keep (writing a million"
                             " frames and building their HNSW index takes tens of minutes)")
    parser.add_argument("--cache", choices=("warm", "cold"), default="warm",
                        help="warm (default): read the library into PostgreSQL's cache first "
                             "(as much as it holds), as a library in use has it; cold: as it is")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    figures: dict[str, object] = {"sizes": sizes}
    for size in sizes:
        figures.update(run(size, args.keep, [int(e) for e in args.ef.split(",")], args.cache))
    print("RESULT " + json.dumps(figures))


if __name__ == "__main__":
    main()
