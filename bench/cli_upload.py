"""Bulk upload with the CLI against a plain loop: `coreviz-studio media upload DIR COLLECTION`
(a process of its own, as people run it) sending --photos small real photos, beside a baseline
in the same run on the same server: a loop of multipart POSTs to /api/upload/multipart over
one httpx connection, one file after the other.

The photos are scikit-image's (the ones bench/pipeline.py uses), cropped at random, mirrored
half the time and scaled to at most --max-side pixels: distinct bytes, a few tens of KB each.
The server runs no workers (COREVIZ_WORKERS=0): uploads are queued, not processed, so the
figures are the upload path alone. Each sender gets a collection of its own (nothing is
skipped as already there). The CLI runs with -j 1 (one file at a time, like the loop) and with
-j --parallel; its time is the process's whole life (start-up and imports included) and, from
its own summary, the upload alone. Its peak memory is the RSS of its process tree, sampled
every 50 ms with psutil.

Prints figures only; timings are never asserted. Run from the repository root:
    .venv/bin/python -m bench.cli_upload [--photos 1000] [--parallel 4] [--max-side 480]
The last line is `RESULT {json}` with every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
import skimage.data
from PIL import Image, ImageOps
from tests.processes import ROOT

from bench._server import MB, Bench, running
from bench.pipeline import PHOTOS


def small_photos(count: int, max_side: int, seed: int = 11) -> list[bytes]:
    rng = random.Random(seed)
    sources = [Image.fromarray(np.asarray(getattr(skimage.data, name)())).convert("RGB")
               for name in PHOTOS if hasattr(skimage.data, name)]
    out: list[bytes] = []
    seen: set[bytes] = set()
    i = 0
    while len(out) < count:
        img = sources[i % len(sources)]
        i += 1
        w, h = img.size
        img = img.crop((rng.randint(0, w // 4), rng.randint(0, h // 4),
                        w - rng.randint(0, w // 4), h - rng.randint(0, h // 4)))
        if rng.random() < 0.5:
            img = ImageOps.mirror(img)
        img.thumbnail((max_side, max_side))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=rng.randint(80, 92))
        data = buf.getvalue()
        if data not in seen:  # distinct bytes: none may be skipped as a duplicate
            seen.add(data)
            out.append(data)
    return out


def collection(b: Bench, name: str) -> str:
    r = b.client.post(f"/api/organization/{b.org_id}/datasets", json={"name": name})
    r.raise_for_status()
    return str(r.json()["id"])


def baseline(b: Bench, files: list[Path], tree: Path, label: str) -> dict[str, Any]:
    """One multipart POST per file, one after the other, over one kept-alive connection, into
    the same folders the CLI makes (made first, outside the timing)."""
    dataset = collection(b, label)
    top = b.client.post("/api/folder", json={"datasetId": dataset, "name": tree.name})
    top.raise_for_status()
    folders: dict[str, str] = {}
    for name in sorted({f.parent.name for f in files}):
        r = b.client.post("/api/folder", json={"datasetId": dataset, "name": name,
                                               "path": top.json()["folder"]["path"]})
        r.raise_for_status()
        folders[name] = r.json()["folder"]["path"]
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    with httpx.Client(base_url=b.server.url, headers=b.client.headers, timeout=120,
                      limits=limits) as http:
        started, cpu = time.perf_counter(), time.process_time()
        for f in files:
            with f.open("rb") as data:
                r = http.post("/api/upload/multipart",
                              data={"datasetId": dataset, "path": folders[f.parent.name]},
                              files={"file": (f.name, data, "image/jpeg")})
            if r.status_code not in (200, 201):
                raise RuntimeError(f"baseline upload: {r.status_code} {r.text[:300]}")
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"seconds": round(seconds, 3), "files_per_s": round(len(files) / seconds, 1),
            "client_cpu_ms_per_file": round(cpu / len(files) * 1000, 2)}


def _tree_rss(proc: psutil.Process) -> int:
    try:
        tree = [proc, *proc.children(recursive=True)]
    except psutil.Error:  # it has just ended
        return 0
    total = 0
    for p in tree:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def cli_upload(b: Bench, tree: Path, parallel: int, key: str, home: Path) -> dict[str, Any]:
    dataset = collection(b, f"cli-j{parallel}")
    env = {**os.environ, "COREVIZ_API_URL": b.server.url, "COREVIZ_API_KEY": key,
           "COREVIZ_CONFIG_DIR": str(home / f"config-j{parallel}")}
    argv = [sys.executable, "-m", "coreviz_studio", "media", "upload", str(tree), dataset,
            "--json", "-j", str(parallel)]
    peak = 0
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    watched = psutil.Process(proc.pid)
    done = threading.Event()

    watched_cpu = [0.0]

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(watched))
            try:
                t = watched.cpu_times()
                watched_cpu[0] = t.user + t.system
            except psutil.Error:
                pass
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    used = watched_cpu[0]
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"the CLI failed ({proc.returncode}): {err[-2000:]}")
    summary = json.loads(out.strip().splitlines()[-1])
    count = summary["uploaded"]
    return {"parallel": parallel, "uploaded": count, "skipped": summary["skipped"],
            "wall_seconds": round(wall, 3), "files_per_s_wall": round(count / wall, 1),
            "upload_seconds": summary["seconds"],
            "files_per_s_upload": round(count / summary["seconds"], 1),
            "peak_rss_mb": round(peak / MB, 1),
            "cpu_seconds": round(used, 2),
            "cpu_ms_per_file": round(used / max(1, count) * 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=1000, help="how many photos")
    parser.add_argument("--parallel", type=int, default=4, help="the CLI's -j for its 2nd run")
    parser.add_argument("--max-side", type=int, default=480, help="photo size (pixels)")
    args = parser.parse_args()

    with running("cvs-bench-cli-upload-", env={"COREVIZ_WORKERS": "0"}) as b, \
            tempfile.TemporaryDirectory(prefix="cvs-bench-cli-") as tmp:
        home = Path(tmp)
        tree = home / "photos"
        for i, data in enumerate(small_photos(args.photos, args.max_side)):
            sub = tree / f"set{i % 10}"
            sub.mkdir(parents=True, exist_ok=True)
            (sub / f"img{i:05d}.jpg").write_bytes(data)
        files = sorted(tree.rglob("*.jpg"))
        sizes = [f.stat().st_size for f in files]
        print(f"{len(files)} photos in 10 folders, {sum(sizes) / MB:.1f} MB "
              f"(avg {sum(sizes) / len(sizes) / 1024:.0f} KB, max {max(sizes) / 1024:.0f} KB)")
        key = b.client.headers["x-api-key"]
        # The loop runs before and after the CLI (the machine's load drifts); the ratios are to
        # the mean of the two.
        before = baseline(b, files, tree, "baseline-before")
        print(f"baseline (multipart POSTs, one connection): {before['files_per_s']} files/s")
        runs = [cli_upload(b, tree, parallel, key, home)
                for parallel in sorted({1, args.parallel})]
        after = baseline(b, files, tree, "baseline-after")
        print(f"baseline again: {after['files_per_s']} files/s")
        loop = {"files_per_s": round((before["files_per_s"] + after["files_per_s"]) / 2, 1)}
        result: dict[str, Any] = {"photos": len(files), "bytes": sum(sizes),
                                  "cores": os.cpu_count(), "baseline_before": before,
                                  "baseline_after": after,
                                  "baseline_files_per_s": loop["files_per_s"],
                                  "load_average_1m": round(os.getloadavg()[0], 2)}
        for run in runs:
            parallel = run["parallel"]
            run["ratio_wall_to_baseline"] = round(run["files_per_s_wall"]
                                                  / loop["files_per_s"], 3)
            run["ratio_upload_to_baseline"] = round(run["files_per_s_upload"]
                                                    / loop["files_per_s"], 3)
            result[f"cli_j{parallel}"] = run
            print(f"CLI -j {parallel}: {run['files_per_s_wall']} files/s over its whole run, "
                  f"{run['files_per_s_upload']} files/s uploading (ratio to the loop "
                  f"{run['ratio_wall_to_baseline']} / {run['ratio_upload_to_baseline']}), "
                  f"peak RSS {run['peak_rss_mb']} MB")
        print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
