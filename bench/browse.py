"""Browse latency over a big collection: GET /api/dataset/{id}/media?limit=100 on --media items.

Starts a real server on a temp data dir, then writes the collection straight into its embedded
PostgreSQL with a few INSERT ... SELECT statements: images with one frame and one caption each,
~90% at the collection's root and ~10% in a few folders, 2/3 tagged {"Color": [...]}, created over
the year 2025; then VACUUM (ANALYZE). Each query shape gets 5 warm-up requests and --requests
timed ones at random offsets across its whole result; p50/p99 are wall times seen by the client.
The first request of each shape (limit=0, for its total) is reported apart (`first ms`): a big
listing's first request makes its offset marks (media/offsets.py), one pass over the listing.
Every page is checked: 100 items, and each image with its one frame and one caption embedded.
With --cache warm (the default) the library's tables and indexes are first read into
PostgreSQL's cache (pg_prewarm), as a library in use has them; --cache cold measures as it comes.

Row-level security (the database's wall between organizations) is measured on and off in the
same run: each shape is timed with the policies applied, then at once with them disabled on the
library tables (the owner's ALTER TABLE ... DISABLE ROW LEVEL SECURITY), then they are enabled
again.

The baseline, in the same run: the bare SQL of the same pages at the same offsets (the exact
count, the page, its frames, captions and objects; psycopg as the database's owner, rows fetched
but not serialized), with the ratio of end to end to bare SQL at p99 (`<shape>_p99_ratio`).

Prints figures and a last line `RESULT {json}`; timings are never asserted. Run from the
repository root:
    .venv/bin/python -m bench.browse [--media 100000] [--requests 50] [--rls both|on|off]
                                     [--cache warm|cold] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench._server import Bench, owner_connection, percentile, running

FOLDERS = 5
LIMIT = 100
WARMUPS = 5
START = "2025-01-01T00:00:00Z"  # created_at spreads over the year from here

_FOLDERS_SQL = """
INSERT INTO media (id, organization_id, dataset_id, type, name, path, root_id, is_active_version,
                   status, created_at, updated_at)
SELECT id, %(org)s::uuid, %(ds)s::uuid, 'folder', 'Folder ' || n,
       text2ltree(%(root)s::text || '.' || h.hex), id, true, 'active',
       %(start)s::timestamptz, %(start)s::timestamptz
FROM (SELECT n, gen_random_uuid() AS id FROM generate_series(1, %(folders)s) n) f,
     LATERAL (SELECT replace(f.id::text, '-', '') AS hex) h
RETURNING id
"""
# Every 10th item goes into a folder; the path is <collection>[.<folder>].<own id>.
_MEDIA_SQL = """
WITH s AS (
    SELECT n, gen_random_uuid() AS id,
           %(start)s::timestamptz + random() * interval '365 days' AS ts,
           CASE WHEN n %% 10 = 0 THEN (%(folder_ids)s::uuid[])[1 + (n / 10) %% %(folders)s]
           END AS folder
    FROM generate_series(1, %(count)s) n)
INSERT INTO media (id, organization_id, dataset_id, type, name, path, root_id, is_active_version,
                   status, metadata, mime_type, size_bytes, width, height, created_at, updated_at)
SELECT id, %(org)s::uuid, %(ds)s::uuid, 'image', 'IMG_' || substr(md5(n::text), 1, 8) || '.jpg',
       text2ltree(%(root)s::text || coalesce('.' || replace(folder::text, '-', ''), '')
                  || '.' || replace(id::text, '-', '')),
       id, true, 'active',
       CASE WHEN n %% 3 = 0 THEN '{}'::jsonb
            ELSE jsonb_build_object('tags', jsonb_build_object('Color', jsonb_build_array(
                (ARRAY['red', 'blue', 'green', 'yellow'])[1 + (n / 3) %% 4])))
       END,
       'image/jpeg', 200000 + (n::bigint * 7919) %% 5000000, 4032, 3024, ts, ts
FROM s
"""
_FRAMES_SQL = """
INSERT INTO frames (organization_id, media_id, frame_index, timestamp, width, height, metadata,
                    created_at, updated_at)
SELECT organization_id, id, 0, 0, width, height, '{}'::jsonb, created_at, created_at
FROM media WHERE dataset_id = %(ds)s AND type = 'image'
"""
_CAPTIONS_SQL = """
INSERT INTO captions (organization_id, frame_id, text, model, created_at, updated_at)
SELECT f.organization_id, f.id,
       'A ' || coalesce(m.metadata -> 'tags' -> 'Color' ->> 0, 'plain')
       || ' scene photographed on ' || to_char(m.created_at, 'FMMonth DD, YYYY') || '.',
       'bench', f.created_at, f.created_at
FROM frames f JOIN media m ON m.id = f.media_id
WHERE m.dataset_id = %(ds)s
"""


RLS_TABLES = ("datasets", "media", "frames", "captions", "objects", "embeddings", "clusters")


def set_rls(b: Bench, enabled: bool) -> None:
    """Apply (or stop applying) the row-level security policies of the library tables."""
    with owner_connection(b) as conn:
        for table in RLS_TABLES:
            conn.execute(f"ALTER TABLE {table} "
                         f"{'ENABLE' if enabled else 'DISABLE'} ROW LEVEL SECURITY")


def generate(b: Bench, count: int) -> uuid.UUID:
    """Write `count` images (+ frames, captions) into the collection; returns one folder's id."""
    params: dict[str, Any] = {"org": b.org_id, "ds": b.dataset_id, "start": START,
                              "root": uuid.UUID(b.dataset_id).hex, "folders": FOLDERS,
                              "count": count}
    with owner_connection(b) as conn:
        started = time.perf_counter()
        with conn.transaction():
            conn.execute("SELECT setseed(0.42)")
            folder_ids = [row[0] for row in conn.execute(_FOLDERS_SQL, params).fetchall()]
            conn.execute(_MEDIA_SQL, {**params, "folder_ids": folder_ids})
            frames = conn.execute(_FRAMES_SQL, params).rowcount
            captions = conn.execute(_CAPTIONS_SQL, params).rowcount
        inserted = time.perf_counter() - started
        conn.execute("VACUUM (ANALYZE) media, frames, captions")
    print(f"generated {count:,} media + {FOLDERS} folders, {frames:,} frames, "
          f"{captions:,} captions in {inserted:.1f} s "
          f"(+{time.perf_counter() - started - inserted:.1f} s VACUUM ANALYZE)")
    return uuid.UUID(str(folder_ids[0]))


def warm(b: Bench) -> None:
    """Read the library's tables and indexes into PostgreSQL's cache (pg_prewarm), as a library
    in use has them: otherwise the first pages at random offsets read from disk, and on a machine
    whose OS drops idle page cache (this one: DAMON reclaims it within seconds) every run is a
    cold start. The server's autoprewarm does the same after a restart (docs/speed.md)."""
    with owner_connection(b) as conn:
        started = time.perf_counter()
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        tables = list(RLS_TABLES)
        pages = conn.execute(
            "SELECT sum(pg_prewarm(c.oid)) FROM pg_class c WHERE c.oid = ANY(%s::regclass[])"
            " OR c.oid IN (SELECT indexrelid FROM pg_index"
            "              WHERE indrelid = ANY(%s::regclass[]))", (tables, tables)).fetchone()
        cache = conn.execute("SHOW shared_buffers").fetchone()
    megabytes = int((pages or [0])[0] or 0) * 8 / 1024
    print(f"cache: read {megabytes:,.0f} MB of tables and indexes into shared_buffers "
          f"({(cache or ['?'])[0]}) in {time.perf_counter() - started:.1f} s")


def known_folder(b: Bench) -> uuid.UUID:
    """The first of the folders `generate` wrote (a kept library, reused)."""
    r = b.client.get(f"/api/dataset/{b.dataset_id}/media",
                     params={"type": "folder", "limit": "1", "sortBy": "name"})
    r.raise_for_status()
    return uuid.UUID(r.json()["media"][0]["id"])


@dataclass
class Shape:
    """One query shape: the API's parameters, and the same page as bare SQL (WHERE, ORDER BY)."""
    params: dict[str, str]
    where: str
    order: str = "created_at, id"


def shapes(b: Bench, folder: uuid.UUID) -> dict[str, Shape]:
    root = uuid.UUID(b.dataset_id).hex
    children = f"subpath(path, 0, nlevel(path) - 1) = '{root}'::ltree"
    return {
        "(a) default sort (createdAt asc)": Shape({}, children),
        "(b) sortBy=name desc": Shape({"sortBy": "name", "sortDirection": "desc"}, children,
                                      "lower(name) DESC, id DESC"),
        "(c) recursive=true": Shape({"recursive": "true"},
                                    f"path <@ '{root}'::ltree AND path <> '{root}'::ltree"),
        "(d) tagFilters Color=red": Shape({"tagFilters": json.dumps({"Color": ["red"]})},
                                          children + " AND metadata -> 'tags' -> 'Color' ?| "
                                          "ARRAY['red']"),
        "(e) a folder (path=...)": Shape(
            {"path": f"{root}.{folder.hex}"},
            f"subpath(path, 0, nlevel(path) - 1) = '{root}.{folder.hex}'::ltree"),
        "(f) dateFrom/dateTo, one month": Shape(
            {"dateFrom": "2025-06-01", "dateTo": "2025-06-30"},
            children + " AND created_at >= '2025-06-01' AND created_at < '2025-07-01'"),
    }


# The bare SQL of one page, as the server's queries shape it (media/browse.py, media/views.py):
# the exact count, the page, then its frames, their captions and objects; rows fetched, no JSON.
_SQL_COMMON = "dataset_id = %(ds)s AND status = 'active' AND is_active_version AND "


def bare_page(conn: psycopg.Connection[Any], ds: str, shape: Shape, offset: int) -> int:
    where = _SQL_COMMON + shape.where
    total = conn.execute(f"SELECT count(*) FROM media WHERE {where}", {"ds": ds}).fetchone()
    rows = conn.execute(f"SELECT * FROM media WHERE {where} ORDER BY {shape.order} "
                        f"LIMIT {LIMIT} OFFSET {offset}", {"ds": ds}).fetchall()
    ids = [r[0] for r in rows]
    frames = conn.execute("SELECT * FROM frames WHERE media_id = ANY(%s) "
                          "ORDER BY media_id, frame_index", (ids,)).fetchall()
    frame_ids = [f[0] for f in frames]
    conn.execute("SELECT * FROM captions WHERE frame_id = ANY(%s) ORDER BY created_at, id",
                 (frame_ids,)).fetchall()
    conn.execute("SELECT id, label, confidence FROM objects WHERE frame_id = ANY(%s)",
                 (frame_ids,)).fetchall()
    return int(total[0]) if total else 0


def measure_sql(b: Bench, shape: Shape, total: int, requests: int,
                rng: random.Random) -> tuple[float, float]:
    """p50/p99 of the bare SQL of the same pages (the same offsets), as the database's owner."""
    with owner_connection(b) as conn:
        times: list[float] = []
        for i in range(WARMUPS + requests):
            offset = rng.randrange(max(total - LIMIT, 0) + 1)
            started = time.perf_counter()
            counted = bare_page(conn, b.dataset_id, shape, offset)
            if i >= WARMUPS:
                times.append((time.perf_counter() - started) * 1000)
            if counted != total:
                raise RuntimeError(f"bare SQL counted {counted}, the API {total}")
    return percentile(times, 50), percentile(times, 99)


@dataclass
class Result:
    shape: str
    total: int
    p50: float
    p99: float
    kb: float
    pages_ok: int
    errors: list[str]
    first: float = 0.0  # the first request (limit=0): a big listing makes its marks


def _page_ok(body: dict[str, Any], expected: int) -> bool:
    """`expected` items, and each image with its one frame carrying its one caption."""
    items = body["media"]
    images = [m for m in items if m["type"] != "folder"]
    return len(items) == expected and all(
        len(m["frames"]) == 1 and len(m["frames"][0]["captions"]) == 1 for m in images)


def measure(b: Bench, shape: str, params: dict[str, str], requests: int,
            rng: random.Random) -> Result:
    url = f"/api/dataset/{b.dataset_id}/media"
    started = time.perf_counter()
    counted = b.client.get(url, params={**params, "limit": "0"})
    first = (time.perf_counter() - started) * 1000
    if counted.status_code != 200:
        return Result(shape, 0, 0, 0, 0, 0,
                      [f"limit=0: {counted.status_code} {counted.text[:300]}"])
    total = counted.json()["pagination"]["total"]
    times: list[float] = []
    sizes: list[int] = []
    ok = 0
    errors: list[str] = []
    for i in range(WARMUPS + requests):
        offset = rng.randrange(max(total - LIMIT, 0) + 1)
        query = {**params, "limit": str(LIMIT), "offset": str(offset)}
        started = time.perf_counter()
        r = b.client.get(url, params=query)
        elapsed = time.perf_counter() - started
        if r.status_code != 200:
            errors.append(f"GET {r.request.url}: {r.status_code} {r.text[:300]}")
            continue
        if i < WARMUPS:
            continue
        times.append(elapsed * 1000)
        sizes.append(len(r.content))
        ok += _page_ok(r.json(), min(LIMIT, total - offset))
    if not times:
        return Result(shape, total, 0, 0, 0, 0, errors)
    return Result(shape, total, percentile(times, 50), percentile(times, 99),
                  sum(sizes) / len(sizes) / 1024, ok, errors, first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--media", type=int, default=100_000, help="images to generate")
    parser.add_argument("--requests", type=int, default=50, help="timed requests per shape")
    parser.add_argument("--rls", choices=("both", "on", "off"), default="both",
                        help="measure with row-level security, without, or both (default)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="a directory to keep the generated library in and reuse on the next"
                             " run with the same --keep (writing a million items takes minutes)")
    parser.add_argument("--cache", choices=("warm", "cold"), default="warm",
                        help="warm (default): read the library into PostgreSQL's cache first, as "
                             "a library in use has it; cold: as it is after a start")
    args = parser.parse_args()
    with running("cvs-bench-browse-", keep=args.keep) as b:
        folder = known_folder(b) if b.reused else generate(b, args.media)
        if args.cache == "warm":
            warm(b)
        table = shapes(b, folder)
        modes = {"both": (True, False), "on": (True,), "off": (False,)}[args.rls]
        results: dict[bool, list[Result]] = {rls: [] for rls in modes}
        bare: list[tuple[float, float]] = []
        for i, (name, shape) in enumerate(table.items()):
            for rls in modes:  # side by side per shape, so drift of the machine hits both
                set_rls(b, rls)
                rng = random.Random(42 + i)  # the same offsets in each mode
                results[rls].append(measure(b, name, shape.params, args.requests, rng))
            bare.append(measure_sql(b, shape, results[modes[0]][-1].total, args.requests,
                                    random.Random(42 + i)))
        set_rls(b, True)
        print(f"\nGET /api/dataset/{{id}}/media?limit={LIMIT}&offset=<random in range>, "
              f"{args.requests} timed requests per shape after {WARMUPS} warm-ups")
        print(f"{'shape':34} {'rls':>4} {'total':>8} {'p50 ms':>8} {'p99 ms':>8} {'KB/page':>8}"
              "  pages ok  first ms")
        figures: dict[str, Any] = {"media": args.media, "requests": args.requests,
                                   "cache": args.cache}
        for i, name in enumerate(table):
            for rls, rows in results.items():
                r = rows[i]
                print(f"{r.shape:34} {'on' if rls else 'off':>4} {r.total:>8,} {r.p50:>8.1f} "
                      f"{r.p99:>8.1f} {r.kb:>8.0f}  {r.pages_ok}/{args.requests}"
                      f"  {r.first:>8.0f}")
                key = _key(name) + ("" if rls else "_no_rls")
                figures[f"{key}_p50_ms"] = round(r.p50, 1)
                figures[f"{key}_p99_ms"] = round(r.p99, 1)
                figures[f"{key}_first_ms"] = round(r.first, 1)
            sql_p50, sql_p99 = bare[i]
            key = _key(name)
            figures[f"{key}_sql_p50_ms"] = round(sql_p50, 1)
            figures[f"{key}_sql_p99_ms"] = round(sql_p99, 1)
            first = results[modes[0]][i]
            figures[f"{key}_p99_ratio"] = round(first.p99 / max(sql_p99, 1e-9), 2)
            print(f"{'  bare SQL (owner, no RLS)':34} {'':>4} {'':>8} {sql_p50:>8.1f} "
                  f"{sql_p99:>8.1f}  end to end / SQL at p99: {figures[f'{key}_p99_ratio']}")
        for rows in results.values():
            for r in rows:
                for error in r.errors[:5]:
                    print(f"error in {r.shape}: {error}")
        if len(results) == 2:
            on = [r.p50 for r in results[True]]
            off = [r.p50 for r in results[False]]
            figures["rls_p50_ratio"] = round(sum(on) / max(sum(off), 1e-9), 3)
            print(f"row-level security: sum of p50s {sum(on):.1f} ms on / {sum(off):.1f} ms off"
                  f" = {figures['rls_p50_ratio']:.3f}")
        print("RESULT " + json.dumps(figures))


def _key(shape: str) -> str:
    """'(b) sortBy=name desc' -> 'b_sortby_name_desc'."""
    return "_".join(w for w in "".join(c if c.isalnum() else " " for c in shape.lower()).split())


if __name__ == "__main__":
    main()
