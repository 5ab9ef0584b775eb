"""Processing throughput: images per second through the whole pipeline, time per stage, peak
worker memory, and video frames per second.

Starts a real `serve` (with no in-process worker) on a temp data dir, uploads a set of real
photos (scikit-image's, flipped and cropped into distinct images; a quarter upscaled to 12
megapixels like a phone's), then starts real `coreviz-studio worker` processes and times them
until every item is ready. The COCO detector from ../shared/models is placed in the data dir's
models folder when it is there (what an operator would do), so the run covers every model.

Two layouts of the 2 cores are measured on separate batches: one worker process running 2 jobs
at once (threads, the default), and two worker processes running 1 job each. A warm-up item
goes first in each, so model loading is reported apart. The worker processes' RSS (with their
decoding children) is sampled every 100 ms.

Then one 60 s 640x360 video (30 fps, a hard cut every 10 s) is processed alone: every frame is
decoded (to find the cuts), and the kept frames go through the models.

Prints figures and a last line `RESULT {json}` (images/s and mean ms per stage for each layout,
the video's frames/s); nothing is asserted. Run from the repository root:
    .venv/bin/python -m bench.pipeline [--images 40] [--quick] [--layout PROCESSES,JOBS ...]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import statistics
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import skimage.data
from PIL import Image, ImageOps
from tests.processes import Worker
from tests.shared_models import DETECTOR

from bench._server import Bench, running

PHOTOS = ["astronaut", "chelsea", "coffee", "rocket", "camera", "hubble_deep_field",
          "retina", "immunohistochemistry", "cat"]
ENV = {"COREVIZ_WORKERS": "0", "COREVIZ_MODEL_THREADS": "1"}


def photos(count: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    sources = [Image.fromarray(np.asarray(getattr(skimage.data, name)())).convert("RGB")
               for name in PHOTOS if hasattr(skimage.data, name)]
    out = []
    for i in range(count):
        img = sources[i % len(sources)]
        w, h = img.size
        box = (rng.randint(0, w // 8), rng.randint(0, h // 8), w - rng.randint(0, w // 8),
               h - rng.randint(0, h // 8))
        img = img.crop(box)
        if rng.random() < 0.5:
            img = ImageOps.mirror(img)
        if i % 4 == 3:
            img = img.resize((4000, 3000), Image.Resampling.BICUBIC)  # a phone-sized photo
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def video_with_cuts(path: Path, seconds: int = 60, fps: int = 30) -> bytes:
    import av

    sources = [Image.fromarray(np.asarray(getattr(skimage.data, name)())).convert("RGB")
               .resize((640, 360)) for name in PHOTOS[:6]]
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height = 640, 360
        stream.pix_fmt = "yuv420p"
        for i in range(seconds * fps):
            scene = sources[(i // (10 * fps)) % len(sources)]
            shift = (i % (10 * fps)) // 3  # a slow pan inside each scene
            frame = scene.transform(scene.size, Image.Transform.AFFINE, (1, 0, shift, 0, 1, 0))
            for packet in stream.encode(__import__("av").VideoFrame.from_image(frame)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.read_bytes()


def upload(bench: Bench, data: bytes, name: str) -> str:
    r = bench.client.post("/api/upload/multipart", data={"datasetId": bench.dataset_id},
                          files={"file": (name, data, "application/octet-stream")})
    r.raise_for_status()
    return str(r.json()["mediaId"])


def wait_ready(bench: Bench, ids: list[str], timeout: float = 1800) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    pending = set(ids)
    done: dict[str, dict[str, Any]] = {}
    while pending:
        for media_id in list(pending):
            media = bench.client.get(f"/api/media/{media_id}").json()["media"]
            state = media["metadata"]["processing"]
            if state["status"] in ("ready", "failed"):
                done[media_id] = media
                pending.discard(media_id)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} items still processing")
        if pending:
            time.sleep(0.1)
    return [done[m] for m in ids]


class MemorySampler:
    """Peak RSS (MB) of the given processes plus their children, sampled every 100 ms."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for pid in self.pids:
                try:
                    proc = psutil.Process(pid)
                    total += proc.memory_info().rss
                    total += sum(c.memory_info().rss for c in proc.children(recursive=True))
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total / 2**20)
            time.sleep(0.1)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes and their children (live and reaped)."""
    total = 0.0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            for p in [proc, *proc.children(recursive=True)]:
                t = p.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    return total


def postgres_pid(bench: Bench) -> list[int]:
    from tests.processes import pgdata_of, postmaster_pid

    pid = postmaster_pid(pgdata_of(bench.data_dir))
    return [pid] if pid else []


def measure(bench: Bench, label: str, processes: int, concurrency: int,
            images: list[bytes]) -> dict[str, Any]:
    env = {**ENV, "COREVIZ_WORKER_CONCURRENCY": str(concurrency)}
    warm = [upload(bench, images[0], f"warm-{label}-{i}.jpg") for i in range(processes)]
    started = time.monotonic()
    workers = [Worker(bench.data_dir, f"{label}-{i}", env=env) for i in range(processes)]
    sampler = MemorySampler([w.proc.pid for w in workers])
    try:
        wait_ready(bench, warm)
        warmup = time.monotonic() - started
        ids = [upload(bench, data, f"{label}-{i}.jpg") for i, data in enumerate(images)]
        # Uploading is not timed: the workers would race it, so the clock starts once all
        # are queued.
        pids = [w.proc.pid for w in workers]
        cpu0, db0 = cpu_seconds(pids), cpu_seconds(postgres_pid(bench))
        t0 = time.monotonic()
        media = wait_ready(bench, ids)
        elapsed = time.monotonic() - t0
        cpu = (cpu_seconds(pids) - cpu0) / len(images) * 1000
        db = (cpu_seconds(postgres_pid(bench)) - db0) / len(images) * 1000
    finally:
        peak = sampler.stop()
        for worker in workers:
            worker.terminate()
    failed = [m["name"] for m in media if m["metadata"]["processing"]["status"] != "ready"]
    stages: dict[str, list[float]] = defaultdict(list)
    for m in media:
        for stage, seconds in m["metadata"]["processing"].get("stages", {}).items():
            stages[stage].append(seconds)
    per_item = [m["metadata"]["processing"].get("seconds", 0.0) for m in media]
    print(f"\n{label}: {processes} worker process(es) x {concurrency} job(s) at a time")
    print(f"  startup + model loading + 1 warm-up item: {warmup:.1f} s")
    print(f"  {len(images)} images in {elapsed:.1f} s = {len(images) / elapsed:.2f} images/s"
          + (f"  (FAILED: {failed})" if failed else ""))
    print(f"  per item (wall, inside a job): p50 {statistics.median(per_item) * 1000:.0f} ms, "
          f"max {max(per_item) * 1000:.0f} ms")
    print(f"  peak RSS of the workers (with decoding children): {peak:.0f} MB")
    # CPU, not wall: the figure that holds on a shared machine. PostgreSQL's includes the
    # benchmark's own polling of the API.
    print(f"  CPU per image: workers (with decoding children) {cpu:.0f} ms, "
          f"PostgreSQL {db:.0f} ms -> {2000 / (cpu + db):.2f} images/s on 2 cores")
    print("  time per stage, mean per image (ms):")
    figures = {f"{label}_images_per_s": round(len(images) / elapsed, 2),
               f"{label}_item_p50_ms": round(statistics.median(per_item) * 1000),
               f"{label}_peak_rss_mb": round(peak), f"{label}_failed": len(failed),
               f"{label}_worker_cpu_ms": round(cpu), f"{label}_postgres_cpu_ms": round(db)}
    for stage, values in sorted(stages.items(), key=lambda kv: -sum(kv[1])):
        print(f"    {stage:<18} {sum(values) / len(media) * 1000:8.1f}")
        figures[f"{label}_{stage}_ms"] = round(sum(values) / len(media) * 1000, 1)
    return figures


def measure_video(bench: Bench) -> dict[str, object]:
    path = bench.root / "bench.mp4"
    data = video_with_cuts(path)
    env = {**ENV, "COREVIZ_WORKER_CONCURRENCY": "1"}
    media_id = upload(bench, data, "bench.mp4")
    worker = Worker(bench.data_dir, "video", env=env)
    sampler = MemorySampler([worker.proc.pid])
    try:
        [media] = wait_ready(bench, [media_id])
    finally:
        peak = sampler.stop()
        worker.terminate()
    state = media["metadata"]["processing"]
    frames_in_file = 60 * 30
    decode = state["stages"].get("decode", 0.0)
    print("\nvideo: 60 s, 640x360, 30 fps (1800 frames), a hard cut every 10 s")
    print(f"  status {state['status']}, {state.get('frames')} frames kept "
          f"(cuts at {[f['timestamp'] for f in media['frames'] if f['metadata'].get('sceneCut')]})")
    print(f"  decoding + cut detection: {decode:.2f} s = {frames_in_file / decode:.0f} video "
          "frames/s")
    print(f"  whole job (the models on the kept frames and their loading included): "
          f"{state['seconds']:.2f} s = {frames_in_file / state['seconds']:.0f} video frames/s")
    print(f"  peak RSS: {peak:.0f} MB")
    return {"video_frames_kept": state.get("frames"),
            "video_decode_frames_per_s": round(frames_in_file / decode),
            "video_job_frames_per_s": round(frames_in_file / state["seconds"]),
            "video_peak_rss_mb": round(peak)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--quick", action="store_true",
                        help="only the one-process layout (no two-process run, no video)")
    parser.add_argument("--layout", action="append", default=[], metavar="PROCESSES,JOBS",
                        help="measure this layout too (worker processes, jobs at a time in "
                             "each), e.g. 2,2; repeatable")
    args = parser.parse_args()
    print(f"cores: {psutil.cpu_count()}; detector: "
          f"{'nanodet-coco-416' if DETECTOR.exists() else 'absent (no ../shared/models)'}")
    with running("cvs-bench-pipeline-", env=ENV) as bench:
        if DETECTOR.exists():
            target = bench.data_dir / "models" / "objects"
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(DETECTOR, target / DETECTOR.name)
        images = photos(args.images)
        print(f"{len(images)} photos, {sum(map(len, images)) / 2**20:.1f} MB of JPEG")
        figures: dict[str, object] = {"images": len(images), "cores": psutil.cpu_count()}
        figures.update(measure(bench, "threads", processes=1, concurrency=2, images=images))
        if not args.quick:
            figures.update(measure(bench, "processes", processes=2, concurrency=1,
                                   images=images))
            figures.update(measure_video(bench))
        for layout in args.layout:
            processes, jobs = (int(n) for n in layout.split(","))
            figures.update(measure(bench, f"layout_{processes}x{jobs}", processes=processes,
                                   concurrency=jobs, images=images))
    print("RESULT " + json.dumps(figures))


if __name__ == "__main__":
    main()
