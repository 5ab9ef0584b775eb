"""A person's single upload during a bulk import: its time to `ready`, with the queue's
scheduling rule (docs/queue.md) and, in the same run, without it (COREVIZ_QUEUE_PRIORITIES=false:
first come, first served).

For each of the two: a real `coreviz-studio serve` (its own temp data dir and port) with its
in-process worker, one member importing `--photos` small real photos (scikit-image's, cropped and
flipped into distinct ones, 640 px) through the API as fast as the server takes them (a loop of
multipart POSTs, faster than processing: a backlog builds), and a second member of the same
organization who uploads one photo once half of the import is in. The import goes on meanwhile.
Measured: that upload's time from the server's answer to `ready`, the items waiting ahead of it
then (`GET /api/queue`, and that call's latency), and the import and processing rates.

Prints figures; nothing is asserted. Run from the repository root:
    .venv/bin/python -m bench.queue_priority [--photos 1000] [--models ...]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import threading
import time
from typing import Any

import httpx
import numpy as np
import skimage.data
from PIL import Image, ImageOps
from tests.processes import cli_json

from bench._server import Bench, running

SOURCES = ["astronaut", "chelsea", "coffee", "rocket", "camera", "hubble_deep_field",
           "retina", "immunohistochemistry", "cat"]


def small_photos(count: int, side: int = 640, seed: int = 11) -> list[bytes]:
    rng = random.Random(seed)
    sources = [Image.fromarray(np.asarray(getattr(skimage.data, name)())).convert("RGB")
               for name in SOURCES if hasattr(skimage.data, name)]
    out = []
    for i in range(count):
        img = sources[i % len(sources)]
        w, h = img.size
        img = img.crop((rng.randint(0, w // 6), rng.randint(0, h // 6),
                        w - rng.randint(0, w // 6), h - rng.randint(0, h // 6)))
        if rng.random() < 0.5:
            img = ImageOps.mirror(img)
        img.thumbnail((side, side))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=85)
        out.append(buf.getvalue())
    return out


def _post(client: httpx.Client, dataset: str, data: bytes, name: str) -> str:
    r = client.post("/api/upload/multipart", data={"datasetId": dataset},
                    files={"file": (name, data, "image/jpeg")})
    r.raise_for_status()
    return str(r.json()["mediaId"])


def _state(client: httpx.Client, media_id: str) -> str:
    r = client.get(f"/api/media/{media_id}")
    r.raise_for_status()
    return str(r.json()["media"]["metadata"].get("processing", {}).get("status"))


def _queue(client: httpx.Client) -> tuple[dict[str, Any], float]:
    began = time.perf_counter()
    r = client.get("/api/queue")
    r.raise_for_status()
    return r.json(), time.perf_counter() - began


def measure(photos: list[bytes], single: bytes, env: dict[str, str],
            timeout: float) -> dict[str, Any]:
    with running("cvs-bench-queue-", env=env) as bench:
        return _measure(bench, photos, single, timeout)


def _measure(bench: Bench, photos: list[bytes], single: bytes, timeout: float) -> dict[str, Any]:
    person = cli_json("users", "create", "--email", "person@example.org", "--name", "Person",
                      "--org", "Bench", "--data-dir", str(bench.data_dir))
    half = threading.Event()
    stop = threading.Event()
    imported: list[float] = []
    errors: list[str] = []

    def import_all() -> None:
        try:
            for i, data in enumerate(photos):
                if stop.is_set():
                    return
                _post(bench.client, bench.dataset_id, data, f"bulk-{i:05d}.jpg")
                imported.append(time.monotonic())
                if len(imported) >= len(photos) // 2:
                    half.set()
        except Exception as exc:  # shown in the result, and the measurement ends
            errors.append(repr(exc))
            half.set()

    began = time.monotonic()
    importer = threading.Thread(target=import_all, name="bulk-import", daemon=True)
    importer.start()
    half.wait()
    with httpx.Client(base_url=bench.server.url, headers={"x-api-key": person["apiKey"]},
                      timeout=120) as client:
        before, queue_seconds = _queue(client)
        media_id = _post(client, bench.dataset_id, single, "mine.jpg")
        uploaded, imported_then = time.monotonic(), len(imported)
        state = "queued"
        while state != "ready" and time.monotonic() - uploaded < timeout and not errors:
            time.sleep(0.1)
            state = _state(client, media_id)
        ready = time.monotonic()
        after, _ = _queue(client)
    stop.set()
    importer.join(600)
    processed = after["ready"] + after["failed"]
    return {
        "single_ready_s": round(ready - uploaded, 2) if state == "ready" else None,
        "single_state": state,
        "waiting_ahead": before["queued"], "processing_then": before["processing"],
        "queue_call_ms": round(queue_seconds * 1000, 1),
        "imported_before_it": imported_then, "imported": len(imported),
        "import_per_s": round(len(imported) / max(imported[-1] - began, 1e-9), 2)
        if imported else 0.0,
        "processed_per_s": round(processed / max(ready - began, 1e-9), 2),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=1000, help="photos the bulk import sends")
    parser.add_argument("--models", default=None,
                        help="COREVIZ_MODELS for the server (default: the server's default)")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="longest wait for the single upload, seconds")
    args = parser.parse_args()
    photos = small_photos(args.photos + 1)
    single, photos = photos[-1], photos[:-1]
    env = {"COREVIZ_WORKERS": "1", "COREVIZ_MODEL_THREADS": "1"}
    if args.models:
        env["COREVIZ_MODELS"] = args.models
    result: dict[str, Any] = {"photos": args.photos, "models": args.models or "default"}
    for name, rule in (("priority", "true"), ("fifo", "false")):
        figures = measure(photos, single, {**env, "COREVIZ_QUEUE_PRIORITIES": rule},
                          args.timeout)
        print(f"{name}: {json.dumps(figures)}", flush=True)
        result[name] = figures
    on, off = result["priority"]["single_ready_s"], result["fifo"]["single_ready_s"]
    result["goal_s"] = 10
    result["met"] = on is not None and on < 10
    if on and off:
        result["speedup"] = round(off / on, 1)
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
