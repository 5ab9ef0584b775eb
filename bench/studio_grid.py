"""The Studio's library view at scale: how fast the grid of a --items collection shows, in Chromium.

Starts a real server on a temp data dir, writes the collection straight into its embedded
PostgreSQL (tests/seed_media.py: one INSERT ... SELECT, then ANALYZE): images at the top level,
each with a real WebP thumbnail in the blob store (--thumbnails distinct files, crops of
scikit-image's bundled photos at 400 x 300, shared in turn) and one shared original.

Then, --runs times, a fresh browser context (empty cache, signed in through the API) opens
/c/{collection} in Debian's Chromium (Playwright, /usr/bin/chromium or COREVIZ_TEST_CHROMIUM)
at --width x --height and records, from the navigation's start:
- `first_paint_ms`, `first_contentful_paint_ms` (the browser's paint timings);
- `thumbs100_ms`: when 100 grid thumbnails have loaded (complete, decoded size > 0), polled on
  every animation frame by a script Playwright adds to the page;
- `page_server_ms`: the page's own HTML (request start to response end, Navigation Timing) and
  `browse_in_page_ms`: the grid's first browse call as the page made it (Resource Timing);
- every request: `originals` counts those for an original (`blob`) of any item: must be 0.
Then the same page again in the same context: `warm_thumbs100_ms`, with the thumbnails cached
(they are immutable), the page's own cost without their transfer.
The baselines, in the same run: the bare browse call for the same first page (limit 120,
newest first) with an API key over HTTP, `baseline_browse_ms` (median of --runs after warm-up),
and one thumbnail GET after another, `baseline_thumbnail_get_ms` (median of 100); and the floor,
`floor_static_thumbs100_ms`: the same browser showing 100 of the same thumbnail files in a bare
page of <img> from Python's static file server (no framework, database or checks).

Prints the figures and a last line `RESULT {json}` (medians); timings are never asserted.
Run from the repository root:
    .venv/bin/python -m bench.studio_grid [--items 100000] [--runs 5]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from tests.browser import LAUNCH_ARGS, find_or_install_chromium
from tests.processes import cli
from tests.seed_media import Seeded, seed_items

from bench._server import Bench, running
from coreviz_studio.db.embedded import EmbeddedPostgres
from coreviz_studio.storage.base import put_stream
from coreviz_studio.storage.local import LocalBlobStore

PASSWORD = "bench-password-1"
PAGE = 120  # static/js/library.js's first page
WANT = 100

# Added to every page before its own scripts: note when WANT thumbnails of the grid have loaded.
_PROBE = """
(() => {
  const want = WANT;
  const tick = () => {
    const grid = document.getElementById("grid");
    if (grid) {
      let done = 0;
      for (const img of grid.querySelectorAll("img.thumb")) {
        if (img.complete && img.naturalWidth > 0) done += 1;
      }
      if (done >= want) { window.__thumbs = performance.now(); return; }
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();
""".replace("WANT", str(WANT))


def _thumbnails(count: int) -> list[bytes]:
    """`count` distinct 400 x 300 WebP files (q80, as the pipeline makes them): crops of real
    photos, so their sizes are a thumbnail's (10-25 KB), not a flat colour's."""
    import numpy as np
    import skimage.data
    from PIL import Image

    photos = [Image.fromarray(np.asarray(getattr(skimage.data, name)())).convert("RGB")
              for name in ("astronaut", "chelsea", "coffee", "rocket", "cat")]
    out = []
    for i in range(count):
        photo = photos[i % len(photos)]
        w, h = photo.size
        scale = 0.55 + 0.4 * ((i * 37) % 100) / 100
        cw, ch = int(w * scale), int(min(h, w * scale * 0.75))
        x, y = (i * 53) % max(1, w - cw), (i * 29) % max(1, h - ch)
        buffer = io.BytesIO()
        photo.crop((x, y, x + cw, y + ch)).resize((400, 300)).save(buffer, "WEBP", quality=80,
                                                                   method=4)
        out.append(buffer.getvalue())
    return out


def seed(b: Bench, items: int, distinct: int) -> Seeded:
    pg = EmbeddedPostgres(b.data_dir)
    url = pg.acquire()  # joins the server's running cluster
    try:
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        started = time.perf_counter()
        pictures = _thumbnails(distinct + 1)
        seeded = seed_items(engine, b.data_dir / "blobs", b.org_id, b.dataset_id, items,
                            pictures[:distinct])
        # The newest `distinct` items (the grid's first screens) keep a thumbnail of their own,
        # as every item has in a real library; the older ones share one more. Shared in turn by
        # all, each key would be held by items / distinct rows, and serving it would read
        # them all (blobs/refs.py), which no real grid does.
        filler = put_stream(LocalBlobStore(b.data_dir / "blobs"), io.BytesIO(pictures[-1]),
                            "webp")
        with engine.begin() as conn:
            conn.execute(text("UPDATE media SET thumbnail_key = :filler WHERE dataset_id = :ds "
                              "AND name <= :last"),
                         {"filler": filler, "ds": b.dataset_id,
                          "last": f"item-{max(0, items - distinct):06d}.jpg"})
        engine.dispose()
        print(f"seeded {items:,} items ({distinct} distinct thumbnails) in "
              f"{time.perf_counter() - started:.1f} s")
        return seeded
    finally:
        pg.release()


def baseline(b: Bench, runs: int) -> list[float]:
    """The bare browse call of the grid's first page, with an API key."""
    params = {"sortBy": "createdAt", "sortDirection": "desc", "limit": str(PAGE), "offset": "0"}
    times = []
    for i in range(runs + 3):
        started = time.perf_counter()
        answer = b.client.get(f"/api/dataset/{b.dataset_id}/media", params=params)
        elapsed = (time.perf_counter() - started) * 1000
        answer.raise_for_status()
        if i >= 3:  # warm-ups first
            times.append(elapsed)
    return times


def thumbnail_gets(b: Bench, seeded: Seeded, count: int = 100) -> list[float]:
    """One thumbnail after another over HTTP: what each of the grid's image requests costs
    the server (the browser makes up to six at a time)."""
    times = []
    with httpx.Client(base_url=b.server.url, timeout=60) as client:
        for i in range(count):
            key = seeded.thumbnail_keys[i % len(seeded.thumbnail_keys)]
            started = time.perf_counter()
            client.get(f"/blobs/{key}").raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    return times


_FLOOR_PAGE = """<!doctype html><html><body><script>
let loaded = 0;
document.addEventListener("load", (e) => {
  if (e.target.tagName === "IMG" && ++loaded === WANT) window.__thumbs = performance.now();
}, true);
</script>IMAGES</body></html>"""


def static_floor(browser: Any, b: Bench, seeded: Seeded, count: int,
                 viewport: dict[str, int]) -> float:
    """The floor under thumbs100: the same browser, in a fresh context, loads a bare page of
    `count` <img> of the same thumbnail files from Python's own static file server (no
    framework, no database, no checks), on another port as the Studio's blob route is to its
    page. What this machine's Chromium needs just to fetch and show that many images."""
    import functools
    import http.server
    import shutil
    import tempfile
    import threading
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="cvs-grid-floor-") as tmp:
        root = Path(tmp)
        keys = seeded.thumbnail_keys[:count]
        for i, key in enumerate(keys):
            shutil.copyfile(b.data_dir / "blobs" / key, root / f"{i}.webp")
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass
        handler = functools.partial(Quiet, directory=tmp)
        images = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        pages = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        origin = f"http://127.0.0.1:{images.server_address[1]}"
        tags = "".join(f'<img width="150" height="150" src="{origin}/{i}.webp">'
                       for i in range(len(keys)))
        (root / "floor.html").write_text(_FLOOR_PAGE.replace("WANT", str(WANT))
                                         .replace("IMAGES", tags))
        for server in (images, pages):
            threading.Thread(target=server.serve_forever, daemon=True).start()
        context = browser.new_context(viewport=viewport)
        try:
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{pages.server_address[1]}/floor.html")
            page.wait_for_function("window.__thumbs !== undefined", timeout=60000)
            return float(page.evaluate("window.__thumbs"))
        finally:
            context.close()
            for server in (images, pages):
                server.shutdown()
                server.server_close()


def one_visit(browser: Any, b: Bench, email: str, seeded: Seeded,
              viewport: dict[str, int]) -> dict[str, Any]:
    context = browser.new_context(base_url=b.server.url, viewport=viewport)
    try:
        signed = context.request.post("/api/auth/sign-in/email",
                                      data={"email": email, "password": PASSWORD})
        if not signed.ok:
            raise RuntimeError(f"sign-in: {signed.status} {signed.text()[:300]}")
        context.add_init_script(_PROBE)
        requests: list[str] = []
        context.on("request", lambda r: requests.append(r.url))
        page = context.new_page()
        page.goto(f"/c/{b.dataset_id}")
        # A promise, not wait_for_function: that one evaluates a string, which the CSP refuses.
        reached = page.evaluate("""() => new Promise((done) => {
          const until = performance.now() + 60000;
          const check = () => {
            if (window.__thumbs !== undefined) done(true);
            else if (performance.now() > until) done(false);
            else setTimeout(check, 20);
          };
          check();
        })""")
        if not reached:
            state = page.evaluate("""() => ({
              imgs: document.querySelectorAll("#grid img.thumb").length,
              loaded: [...document.querySelectorAll("#grid img.thumb")]
                .filter((i) => i.complete && i.naturalWidth > 0).length,
              error: document.getElementById("library-error")?.textContent })""")
            raise RuntimeError(f"{WANT} thumbnails never loaded in 60 s: {state}")
        timing = page.evaluate("""() => {
          const nav = performance.getEntriesByType("navigation")[0];
          const paint = Object.fromEntries(performance.getEntriesByType("paint")
            .map((p) => [p.name, p.startTime]));
          const browse = performance.getEntriesByType("resource")
            .find((r) => r.name.includes("/media?"));
          return {
            thumbs100_ms: window.__thumbs,
            first_paint_ms: paint["first-paint"],
            first_contentful_paint_ms: paint["first-contentful-paint"],
            page_server_ms: nav.responseEnd - nav.requestStart,
            browse_in_page_ms: browse ? browse.responseEnd - browse.requestStart : null,
            tiles_in_dom: document.querySelectorAll("#grid > li").length,
          };
        }""")
        first_visit = len(requests)
        # The same page again in the same context: thumbnails are cached (immutable), so this
        # is the page's own cost (HTML, browse, layout, decoding) without their transfer.
        page.goto(f"/c/{b.dataset_id}")
        page.evaluate("""() => new Promise((done) => {
          const until = performance.now() + 60000;
          const check = () => (window.__thumbs !== undefined || performance.now() > until
            ? done() : setTimeout(check, 20));
          check();
        })""")
        timing["warm_thumbs100_ms"] = page.evaluate("window.__thumbs ?? null")
        thumbs = set(seeded.thumbnail_keys)
        requests = requests[:first_visit]
        timing["originals"] = sum(1 for u in requests if seeded.original_key in u)
        timing["thumbnail_requests"] = sum(1 for u in requests if any(k in u for k in thumbs))
        timing["requests"] = len(requests)
        # 1: the page's preload of the first page was what the grid's script used.
        timing["browse_requests"] = sum(1 for u in requests if "/media?" in u)
        return timing
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000, help="items in the collection")
    parser.add_argument("--runs", type=int, default=5, help="fresh browser visits to time")
    parser.add_argument("--thumbnails", type=int, default=200,
                        help="distinct thumbnail files the items share")
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    args = parser.parse_args()
    chromium, why = find_or_install_chromium()
    if chromium is None:
        raise SystemExit(f"no Chromium: {why}")
    from playwright.sync_api import sync_playwright

    with running("cvs-bench-grid-") as b:
        email = "bench@example.org"
        cli("users", "set-password", "--email", email, "--password", PASSWORD,
            "--data-dir", str(b.data_dir))
        seeded = seed(b, args.items, args.thumbnails)
        base = baseline(b, args.runs)
        per_thumbnail = thumbnail_gets(b, seeded)
        visits = []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=LAUNCH_ARGS)
            try:
                one_visit(browser, b, email, seeded, {"width": args.width,
                                                      "height": args.height})  # warm-up
                for _ in range(args.runs):
                    visits.append(one_visit(browser, b, email, seeded,
                                            {"width": args.width, "height": args.height}))
                tiles = visits[-1]["tiles_in_dom"]
                floors = [static_floor(browser, b, seeded, tiles,
                                       {"width": args.width, "height": args.height})
                          for _ in range(args.runs)]
            finally:
                browser.close()
        keys = ("first_paint_ms", "first_contentful_paint_ms", "thumbs100_ms",
                "page_server_ms", "browse_in_page_ms")
        print(f"\n/c/{{id}} at {args.width}x{args.height}, {args.items:,} items, "
              f"{args.runs} fresh contexts (empty cache) after one warm-up")
        print(f"{'visit':>5} " + " ".join(f"{k[:-3]:>26}" for k in keys) + "  originals")
        for i, v in enumerate(visits):
            print(f"{i + 1:>5} " + " ".join(f"{v[k]:>26.1f}" if v[k] is not None else f"{'-':>26}"
                                            for k in keys)
                  + f"  {v['originals']:>9}")
        print(f"baseline: bare browse call (limit {PAGE}), median "
              f"{statistics.median(base):.1f} ms of {len(base)}; one thumbnail GET, median "
              f"{statistics.median(per_thumbnail):.1f} ms of {len(per_thumbnail)}; the floor: "
              f"{WANT} of the same {visits[-1]['tiles_in_dom']} thumbnails in a bare page from "
              f"Python's static file server, median {statistics.median(floors):.1f} ms of "
              f"{len(floors)}")
        figures: dict[str, Any] = {"items": args.items, "runs": args.runs,
                                   "viewport": f"{args.width}x{args.height}"}
        for k in keys:  # browse_in_page: None when no browse call was seen
            values = [v[k] for v in visits if v[k] is not None]
            figures[k] = round(statistics.median(values), 1) if values else None
        figures["baseline_browse_ms"] = round(statistics.median(base), 1)
        figures["baseline_thumbnail_get_ms"] = round(statistics.median(per_thumbnail), 1)
        figures["floor_static_thumbs100_ms"] = round(statistics.median(floors), 1)
        figures["warm_thumbs100_ms"] = round(statistics.median(
            v["warm_thumbs100_ms"] or 0 for v in visits), 1)
        figures["thumbs100_minus_baseline_ms"] = round(
            figures["thumbs100_ms"] - figures["baseline_browse_ms"], 1)
        figures["originals"] = sum(v["originals"] for v in visits)
        figures["thumbnail_requests_per_visit"] = visits[-1]["thumbnail_requests"]
        figures["tiles_in_dom"] = visits[-1]["tiles_in_dom"]
        figures["browse_requests_per_visit"] = visits[-1]["browse_requests"]
        figures["goal_500ms_met"] = figures["thumbs100_ms"] < 500
        print("RESULT " + json.dumps(figures))


if __name__ == "__main__":
    main()
