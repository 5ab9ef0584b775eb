"""The server under load: N concurrent clients send a weighted mix of routes for a fixed time
(and at most a fixed number of requests), against a real `coreviz-studio serve` on 127.0.0.1
with its processing done by `coreviz-studio worker` processes of their own.

Setup (not timed): a library of --media images written straight into the embedded PostgreSQL
(bench/browse.py's generator: one frame and one caption each, tags, folders), plus --uploads small
real pictures uploaded over HTTP and processed by the workers, so that thumbnails and blobs exist.
With --keep the library is kept and reused by the next run with the same --keep.

Then --clients asynchronous clients (httpx, one connection each) loop until --duration seconds or
--requests requests: each picks a route from MIX (browse pages at random offsets, with and without
filters, one media, `?q=` search, /api/search, tags, thumbnails, blobs, queue status, small uploads,
tag writes). Any answer other than 2xx (304 counts as 2xx for blobs), and any exception (timeout,
reset), is an error; a sample of each route's errors is printed.

Printed: requests/s, p50/p99/max per route, errors per route, the memory of the server's
processes (RSS of uvicorn's, PostgreSQL excluded), of the workers and of PostgreSQL (PSS, so its
shared buffers count once) sampled every second (start, peak, end, and the slope of a
least-squares line in MB/min over the timed part), the cores each part used on average (CPU
seconds / seconds: server, PostgreSQL, workers, this load generator), and the load average before
and after. The baseline, in the same run: the same mix from one client (`--baseline-requests`
requests, sequential), so the figures under load compare with the server's own unloaded speed on
this machine (`<route>_p99_ratio` = loaded p99 / single-client p99).
Last line: `RESULT {json}`. Nothing is asserted. Run from the repository root:

    .venv/bin/python -m bench.load --clients 20 --duration 60
    .venv/bin/python -m bench.load --clients 100 --duration 60 --keep /tmp/cvs-load-lib

Sizing the server: --web-processes and --pool set COREVIZ_WEB_PROCESSES and COREVIZ_DB_POOL_SIZE
for it (docs/scaling.md). --url/--key/--dataset aim the clients at a server already running on
127.0.0.1 instead (its memory is then not sampled); any other host is refused.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import ipaddress
import json
import os
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil

from bench._server import Bench, percentile, running

MB = 1024 * 1024
# Route name -> weight (out of 100): mostly reading, as a Studio page and the clients do it.
MIX: dict[str, int] = {
    "browse": 22,  # GET /api/dataset/{id}/media?limit=50&offset=<random>
    "browse_filtered": 10,  # the same with a tag filter, by name, recursive or a date range
    "get_media": 14,  # GET /api/media/{id}
    "search_q": 8,  # GET /api/dataset/{id}/media?q=...
    "search_api": 4,  # GET /api/search?q=...
    "tags": 5,  # GET /api/dataset/{id}/tags
    "thumbnail": 14,  # GET a frame's thumbnailBlob
    "blob": 6,  # GET a media's blob
    "queue": 5,  # GET /api/queue
    "upload": 6,  # POST /api/upload/multipart, a small picture
    "tag_write": 6,  # POST /api/media/{id}/tags
}
READ_ROUTES = frozenset(MIX) - {"upload", "tag_write"}
PAGE = 50
WORDS = ["red scene", "blue", "a dog", "photographed", "green", "scene on June", "IMG", "yelow",
         "plain scene", "trees"]
FILTERS: list[dict[str, str]] = [
    {"tagFilters": json.dumps({"Color": ["red"]})},
    {"sortBy": "name", "sortDirection": "desc"},
    {"recursive": "true"},
    {"dateFrom": "2025-06-01", "dateTo": "2025-06-30"},
    {"tags": "Color"},
]


def loopback_only(url: str) -> str:
    """The URL, if its host is a loopback address; a load run must never leave this machine."""
    host = urlsplit(url).hostname or ""
    try:
        if ipaddress.ip_address(host).is_loopback:
            return url.rstrip("/")
    except ValueError:
        pass
    raise SystemExit(f"refusing to load {url!r}: only 127.0.0.1 (loopback) targets are allowed")


def pick(rng: random.Random, mix: dict[str, int] = MIX) -> str:
    """One route, with the mix's weights."""
    return rng.choices(list(mix), weights=list(mix.values()))[0]


@dataclass
class Sample:
    route: str
    ms: float
    ok: bool
    error: str = ""


def summarize(samples: list[Sample], seconds: float) -> dict[str, Any]:
    """requests/s overall, and per route: count, p50/p99/max of the answers (errors included:
    a slow failure is still slow), errors and a few of their messages."""
    by_route: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_route[s.route].append(s)
    routes: dict[str, dict[str, Any]] = {}
    for route in sorted(by_route):
        rows = by_route[route]
        times = [s.ms for s in rows]
        errors = [s for s in rows if not s.ok]
        routes[route] = {"count": len(rows), "p50_ms": percentile(times, 50),
                         "p99_ms": percentile(times, 99), "max_ms": max(times),
                         "errors": len(errors), "error_sample": [s.error for s in errors[:3]]}
    total_errors = sum(r["errors"] for r in routes.values())
    return {"requests": len(samples), "seconds": seconds,
            "rps": len(samples) / seconds if seconds > 0 else 0.0, "errors": total_errors,
            "error_rate": total_errors / len(samples) if samples else 0.0, "routes": routes}


def slope_mb_per_min(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) points, in MB per minute (0 with fewer than 2)."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_m = sum(m for _, m in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return sum((t - mean_t) * (m - mean_m) for t, m in points) / var * 60


# --- memory -------------------------------------------------------------------------------------

def _tree_cpu(root: psutil.Process) -> tuple[float, float]:
    """CPU seconds (user + system) so far of a process and its descendants: (uvicorn's
    processes, PostgreSQL's). A backend that ended meanwhile takes its seconds with it."""
    app = pg = 0.0
    with suppress(psutil.NoSuchProcess):
        for proc in [root, *root.children(recursive=True)]:
            with suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                t = proc.cpu_times()
                if proc.name().startswith("postgres"):
                    pg += t.user + t.system
                else:
                    app += t.user + t.system
    return app, pg


def cpu_seconds(server: psutil.Process | None,
                workers: list[psutil.Process]) -> dict[str, float]:
    """CPU seconds so far of the server's processes, PostgreSQL, the workers and this load
    generator: where the cores go."""
    out = {"load_generator": sum(psutil.Process().cpu_times()[:2])}
    if server is not None:
        out["server"], out["postgres"] = _tree_cpu(server)
    if workers:
        out["workers"] = sum(_tree_cpu(w)[0] for w in workers)
    return out


def _tree_rss(root: psutil.Process) -> tuple[float, float]:
    """Memory (MB) of a process and its descendants: (RSS of uvicorn's processes, PSS of
    PostgreSQL's)."""
    app = pg = 0.0
    with suppress(psutil.NoSuchProcess):
        for proc in [root, *root.children(recursive=True)]:
            with suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                if proc.name().startswith("postgres"):
                    # PSS: the shared buffers every backend maps are counted once, not per backend
                    pg += proc.memory_full_info().pss / MB
                else:
                    app += proc.memory_info().rss / MB
    return app, pg


@dataclass
class MemorySampler:
    """Samples the server's, the workers' and PostgreSQL's RSS every `every` seconds."""
    server: psutil.Process | None
    workers: list[psutil.Process]
    every: float = 1.0
    points: dict[str, list[tuple[float, float]]] = field(
        default_factory=lambda: {"server": [], "workers": [], "postgres": []})
    _stop: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        now = time.monotonic()
        if self.server is not None:
            app, pg = _tree_rss(self.server)
            self.points["server"].append((now, app))
            self.points["postgres"].append((now, pg))
        if self.workers:
            total = 0.0
            for w in self.workers:
                total += _tree_rss(w)[0]
            self.points["workers"].append((now, total))

    @contextmanager
    def running(self) -> Iterator[None]:
        def loop() -> None:
            while not self._stop.wait(self.every):
                self.sample()
        self.sample()
        thread = threading.Thread(target=loop, name="rss-sampler", daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join(5)
            self.sample()

    def figures(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for name, points in self.points.items():
            if points:
                mb = [m for _, m in points]
                out[name] = {"start_mb": round(mb[0], 1), "peak_mb": round(max(mb), 1),
                             "end_mb": round(mb[-1], 1),
                             "slope_mb_per_min": round(slope_mb_per_min(points), 2)}
        return out


# --- the library ----------------------------------------------------------------------------

def picture(seed: int, side: int = 96) -> bytes:
    """A small real JPEG, different for each seed (so uploads are not duplicates)."""
    from PIL import Image, ImageDraw
    rng = random.Random(seed)
    img = Image.new("RGB", (side, side), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        x, y = rng.randrange(side), rng.randrange(side)
        draw.rectangle((x, y, x + rng.randrange(8, 40), y + rng.randrange(8, 40)),
                       fill=tuple(rng.randrange(256) for _ in range(3)))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


@dataclass
class Library:
    """What the clients pick from: ids, blob and thumbnail paths, the listing's total."""
    org_id: str
    dataset_id: str
    total: int
    media_ids: list[str]
    uploaded_ids: list[str]
    blobs: list[str]
    thumbnails: list[str]


def _path(url: str, base: str) -> str:
    return url[len(base):] if url.startswith(base) else url


def upload(client: httpx.Client, dataset_id: str, seed: int) -> str:
    r = client.post("/api/upload/multipart", data={"datasetId": dataset_id},
                    files={"file": (f"load-{seed}.jpg", picture(seed), "image/jpeg")})
    if r.status_code not in (200, 201):
        raise RuntimeError(f"upload: {r.status_code} {r.text[:300]}")
    return str(r.json()["mediaId"])


def wait_processed(client: httpx.Client, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        q = client.get("/api/queue").json()
        if q["queued"] == 0 and q["processing"] == 0:
            return
        time.sleep(0.5)
    raise RuntimeError(f"processing not done in {timeout:.0f} s: {q}")


def prepare(client: httpx.Client, base: str, org_id: str, dataset_id: str,
            uploads: int) -> Library:
    """Uploads (processed), then the ids and blob paths the mix needs."""
    seed = int(time.time())  # a kept library gets new pictures, never duplicates
    uploaded = [upload(client, dataset_id, seed * 1000 + i) for i in range(uploads)]
    wait_processed(client)
    blobs, thumbs = [], []
    for media_id in uploaded:
        media = client.get(f"/api/media/{media_id}").json()["media"]
        if media.get("blob"):
            blobs.append(_path(media["blob"], base))
        for frame in media.get("frames", []):
            if frame.get("thumbnailBlob"):
                thumbs.append(_path(frame["thumbnailBlob"], base))
    listing = client.get(f"/api/dataset/{dataset_id}/media",
                         params={"limit": "0"}).json()["pagination"]["total"]
    ids: list[str] = []
    rng = random.Random(7)
    for _ in range(5):  # ids from across the listing
        r = client.get(f"/api/dataset/{dataset_id}/media",
                       params={"limit": "100", "offset": str(rng.randrange(max(listing - 100, 1)))})
        ids += [m["id"] for m in r.json()["media"] if m["type"] != "folder"]
    if not blobs or not thumbs:
        raise RuntimeError(f"uploads left no blobs ({len(blobs)}) or thumbnails ({len(thumbs)})")
    return Library(org_id, dataset_id, listing, ids + uploaded, uploaded, blobs, thumbs)


# --- the clients --------------------------------------------------------------------------------

Call = Callable[[httpx.AsyncClient, random.Random], Any]


def calls(lib: Library, upload_seed: Callable[[], int]) -> dict[str, Call]:
    """What each route of MIX sends."""
    listing = f"/api/dataset/{lib.dataset_id}/media"

    def offset(rng: random.Random) -> str:
        return str(rng.randrange(max(lib.total - PAGE, 0) + 1))

    async def upload_small(c: httpx.AsyncClient, rng: random.Random) -> httpx.Response:
        seed = upload_seed()
        return await c.post("/api/upload/multipart", data={"datasetId": lib.dataset_id},
                            files={"file": (f"load-{seed}.jpg", picture(seed), "image/jpeg")})

    async def tag_write(c: httpx.AsyncClient, rng: random.Random) -> httpx.Response:
        media_id = rng.choice(lib.uploaded_ids)
        return await c.post(f"/api/media/{media_id}/tags",
                            json={"label": "Load", "value": f"v{rng.randrange(20)}"})

    return {
        "browse": lambda c, rng: c.get(listing, params={"limit": PAGE, "offset": offset(rng)}),
        # A filtered listing is smaller than the whole: offsets within its first pages.
        "browse_filtered": lambda c, rng: c.get(listing, params={
            **rng.choice(FILTERS), "limit": PAGE, "offset": rng.randrange(0, 2000, PAGE)}),
        "get_media": lambda c, rng: c.get(f"/api/media/{rng.choice(lib.media_ids)}"),
        "search_q": lambda c, rng: c.get(listing, params={"q": rng.choice(WORDS),
                                                          "limit": 20}),
        "search_api": lambda c, rng: c.get("/api/search", params={
            "q": rng.choice(WORDS), "organizationId": lib.org_id, "limit": 20}),
        "tags": lambda c, rng: c.get(f"/api/dataset/{lib.dataset_id}/tags"),
        "thumbnail": lambda c, rng: c.get(rng.choice(lib.thumbnails)),
        "blob": lambda c, rng: c.get(rng.choice(lib.blobs)),
        "queue": lambda c, rng: c.get("/api/queue"),
        "upload": upload_small,
        "tag_write": tag_write,
    }


async def drive(base: str, key: str, routes: dict[str, Call], clients: int, duration: float,
                max_requests: int, seed: int, timeout: float = 30) -> tuple[list[Sample], float]:
    """`clients` loops sending MIX until `duration` seconds or `max_requests` requests."""
    samples: list[Sample] = []
    deadline = time.monotonic() + duration
    sent = 0

    async def one(i: int) -> None:
        nonlocal sent
        rng = random.Random(seed * 1000 + i)
        async with httpx.AsyncClient(base_url=base, headers={"x-api-key": key}, timeout=timeout,
                                     limits=httpx.Limits(max_connections=1)) as c:
            while time.monotonic() < deadline and sent < max_requests:
                sent += 1
                route = pick(rng)
                started = time.perf_counter()
                try:
                    r = await routes[route](c, rng)
                    await r.aread()
                    ok = 200 <= r.status_code < 300 or r.status_code == 304
                    error = "" if ok else f"{r.status_code} {r.request.url.path}: {r.text[:200]}"
                except Exception as exc:  # a timeout, a reset: an error like a 5xx
                    ok, error = False, f"{type(exc).__name__}: {exc}"[:300]
                samples.append(Sample(route, (time.perf_counter() - started) * 1000, ok, error))

    started = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(clients)))
    return samples, time.monotonic() - started


async def drive_each(base: str, key: str, routes: dict[str, Call]) -> list[Sample]:
    """Each route once, in turn."""
    out = []
    rng = random.Random(0)
    async with httpx.AsyncClient(base_url=base, headers={"x-api-key": key}, timeout=300) as c:
        for route, call in routes.items():
            started = time.perf_counter()
            r = await call(c, rng)
            ok = 200 <= r.status_code < 300
            out.append(Sample(route, (time.perf_counter() - started) * 1000, ok,
                              "" if ok else f"{r.status_code}: {r.text[:200]}"))
    return out


# --- the run --------------------------------------------------------------------------------

@dataclass
class Target:
    base: str
    key: str
    lib: Library
    server: psutil.Process | None
    workers: list[psutil.Process]


def _load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run(t: Target, args: argparse.Namespace) -> dict[str, Any]:
    counter = iter(range(10**9))
    base_seed = int(time.time()) * 1000 + 500

    def upload_seed() -> int:
        return base_seed + next(counter)

    routes = calls(t.lib, upload_seed)
    figures: dict[str, Any] = {"media": args.media, "listing_total": t.lib.total,
                               "clients": args.clients, "duration_s": args.duration,
                               "web_processes": args.web_processes,
                               "pool": args.pool, "worker_processes": args.workers,
                               "cores": os.cpu_count()}
    # Warm-up, not counted: each route once (the first search loads the query's model).
    warm = [w for w in asyncio.run(drive_each(t.base, t.key, routes)) if not w.ok]
    for w in warm:
        print(f"warm-up error in {w.route}: {w.error}")
    if t.server is not None:
        print(f"server pid {t.server.pid}, worker pids {[w.pid for w in t.workers]}", flush=True)
    base_samples: list[Sample] = []
    if args.baseline_requests:
        base_samples, secs = asyncio.run(drive(t.base, t.key, routes, 1, 3600,
                                               args.baseline_requests, seed=1))
        baseline = summarize(base_samples, secs)
    figures["load_before"] = _load_average()
    sampler = MemorySampler(t.server, t.workers)
    cpu_before = cpu_seconds(t.server, t.workers)
    with sampler.running():
        samples, seconds = asyncio.run(drive(t.base, t.key, routes, args.clients, args.duration,
                                             args.requests, seed=2))
    cpu_after = cpu_seconds(t.server, t.workers)
    figures["load_after"] = _load_average()
    # Cores used on average by each part over the timed run (1.0 = one core all the time).
    figures["cores_used"] = {name: round((cpu_after[name] - cpu_before[name]) / seconds, 2)
                             for name in cpu_after}
    s = summarize(samples, seconds)
    print(f"\n{args.clients} clients, {s['requests']:,} requests in {s['seconds']:.1f} s: "
          f"{s['rps']:.1f} requests/s, {s['errors']} errors ({s['error_rate']:.2%}); "
          f"load average {figures['load_before']} -> {figures['load_after']}")
    print(f"{'route':16} {'count':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>6}"
          f"  {'1 client p50/p99':>17}")
    for route, r in s["routes"].items():
        alone = baseline["routes"].get(route) if base_samples else None
        solo = f"{alone['p50_ms']:>8.1f}/{alone['p99_ms']:<8.1f}" if alone else ""
        print(f"{route:16} {r['count']:>6} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
              f"{r['max_ms']:>8.1f} {r['errors']:>6}  {solo}")
        figures[f"{route}_p50_ms"] = round(r["p50_ms"], 1)
        figures[f"{route}_p99_ms"] = round(r["p99_ms"], 1)
        figures[f"{route}_errors"] = r["errors"]
        if alone:
            figures[f"{route}_single_p50_ms"] = round(alone["p50_ms"], 1)
            figures[f"{route}_single_p99_ms"] = round(alone["p99_ms"], 1)
            figures[f"{route}_p99_ratio"] = round(r["p99_ms"] / max(alone["p99_ms"], 1e-9), 2)
    for route, r in s["routes"].items():
        for error in r["error_sample"]:
            print(f"error in {route}: {error}")
    reads = [r["p99_ms"] for name, r in s["routes"].items() if name in READ_ROUTES]
    figures.update(requests=s["requests"], rps=round(s["rps"], 1), errors=s["errors"],
                   error_rate=round(s["error_rate"], 5),
                   worst_read_p99_ms=round(max(reads), 1) if reads else None)
    rss = sampler.figures()
    for name, m in rss.items():
        print(f"RSS {name:9} start {m['start_mb']:7.1f} MB  peak {m['peak_mb']:7.1f}  "
              f"end {m['end_mb']:7.1f}  slope {m['slope_mb_per_min']:+.2f} MB/min")
    figures["rss"] = rss
    print("cores used on average: " + ", ".join(f"{name} {used:.2f}"
                                                 for name, used in figures["cores_used"].items()))
    return figures


def _processes(b: Bench, workers: list[Any]) -> tuple[psutil.Process, list[psutil.Process]]:
    return psutil.Process(b.pid), [psutil.Process(w.proc.pid) for w in workers]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients")
    parser.add_argument("--duration", type=float, default=60, help="seconds of load at most")
    parser.add_argument("--requests", type=int, default=100_000,
                        help="requests at most (whichever of the two comes first)")
    parser.add_argument("--media", type=int, default=20_000, help="images in the library")
    parser.add_argument("--uploads", type=int, default=20,
                        help="small pictures uploaded (and processed) before the run")
    parser.add_argument("--workers", type=int, default=1,
                        help="`coreviz-studio worker` processes (the server runs none itself)")
    parser.add_argument("--web-processes", type=int, default=None,
                        help="COREVIZ_WEB_PROCESSES of the server (default: its own default)")
    parser.add_argument("--pool", type=int, default=None,
                        help="COREVIZ_DB_POOL_SIZE of the server (default: its own default)")
    parser.add_argument("--models", default="text-embedding",
                        help="COREVIZ_MODELS of the server and workers (the query embedding "
                             "needs text-embedding; `none` for the cheapest processing; "
                             "`default`: the server's own default)")
    parser.add_argument("--baseline-requests", type=int, default=200,
                        help="requests of the single-client baseline (0: none)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the library in this directory and reuse it next time")
    parser.add_argument("--url", default=None,
                        help="a server already running on 127.0.0.1 (with --key, --dataset)")
    parser.add_argument("--key", default=None)
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--org", default=None)
    args = parser.parse_args()
    if args.url:
        base = loopback_only(args.url)
        if not (args.key and args.dataset and args.org):
            raise SystemExit("--url needs --key, --dataset and --org")
        with httpx.Client(base_url=base, headers={"x-api-key": args.key}, timeout=900) as c:
            lib = prepare(c, base, args.org, args.dataset, args.uploads)
        print("RESULT " + json.dumps(run(Target(base, args.key, lib, None, []), args)))
        return
    from tests.processes import Worker

    from bench.browse import generate  # its generator and its kept-library handling

    models = {} if args.models == "default" else {"COREVIZ_MODELS": args.models}
    env = {"COREVIZ_WORKERS": "0", **models}
    if args.web_processes is not None:
        env["COREVIZ_WEB_PROCESSES"] = str(args.web_processes)
    if args.pool is not None:
        env["COREVIZ_DB_POOL_SIZE"] = str(args.pool)
    with running("cvs-bench-load-", env=env, keep=args.keep) as b:
        loopback_only(b.server.url)
        if not b.reused:
            generate(b, args.media)
        workers = [Worker(b.data_dir, f"load-{i}", env=models)
                   for i in range(args.workers)]
        try:
            lib = prepare(b.client, b.server.url, b.org_id, b.dataset_id, args.uploads)
            key = str(b.client.headers["x-api-key"])
            server, procs = _processes(b, workers)
            figures = run(Target(b.server.url, key, lib, server, procs), args)
        finally:
            for w in workers:
                with suppress(Exception):
                    w.terminate()
    print("RESULT " + json.dumps(figures))


if __name__ == "__main__":
    main()
