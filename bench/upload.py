"""Upload throughput and server memory: one big file through POST /api/upload/multipart and/or
tus (POST /api/upload/tus, then one PATCH per --chunk-mb, each with Upload-Checksum sha256).

Starts a real server on a temp data dir, makes a real MP4 (PyAV) and pads it to --size-mb with
MP4 `free` boxes (which readers skip, so it still probes as a video), then compares:
- copy: shutil.copyfile of that file to the same disk, plus fsync (the server fsyncs blobs too);
- HTTP floor: the same form sent to uvicorn running an app that only drains the body
  (bench/_drain.py): what HTTP alone costs on this machine, with no parsing, hashing or disk;
- upload: the file streamed by httpx as a multipart form (the client never holds it whole);
- tus: the same file in chunks (the client holds one chunk at a time), each PATCH with its
  sha256 in Upload-Checksum (checked by the server); tus-plain: the same without checksums.
During the upload the server process's RSS is sampled every 50 ms (its Python process only; the
embedded PostgreSQL is a separate process tree). A small warm-up upload comes first, so the
one-time import of the video prober is not counted as upload memory. The server runs no
workers (COREVIZ_WORKERS=0): uploads are queued, not processed. Sizes: MB = 2**20 bytes.

Prints figures only; timings are never asserted. Run from the repository root:
    .venv/bin/python -m bench.upload [--size-mb 1024] [--mode all|multipart|tus|tus-plain]
        [--chunk-mb 8]
The last line is `RESULT {json}` with every figure.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import av
import httpx
import psutil
from tests.media_files import video
from tests.processes import free_port

from bench._server import MB, Bench, running

_ZEROS = bytes(8 * MB)
_MAX_BOX = 64 * MB  # each `free` box; a 32-bit box size allows up to 4 GiB


def pad_with_free_boxes(path: Path, target: int) -> None:
    """Append `free` boxes (4-byte big-endian size, b"free", zeros) until the file is `target`
    bytes long, then fsync it so its write-back does not land inside a measurement."""
    with open(path, "ab") as out:
        left = target - out.tell()
        if left < 8:
            raise SystemExit(f"--size-mb is too small: the MP4 alone is {out.tell():,} bytes")
        while left > 0:
            box = min(left, _MAX_BOX)
            if 0 < left - box < 8:  # keep room for a last box's header
                box -= 8
            out.write(box.to_bytes(4, "big") + b"free")
            zeros = box - 8
            while zeros > 0:
                out.write(_ZEROS[:min(zeros, len(_ZEROS))])
                zeros -= len(_ZEROS)
            left -= box
        out.flush()
        os.fsync(out.fileno())


def probed_duration(path: Path) -> float:
    """Open the file as the server does (small probe limits); the duration must be readable."""
    with av.open(str(path), options={"probesize": "5000000", "analyzeduration": "5000000"}) as c:
        if not c.streams.video or not c.duration:
            raise SystemExit(f"{path} does not probe as a video with a duration")
        return float(c.duration / av.time_base)


@contextmanager
def drain_server() -> Iterator[str]:
    """bench/_drain.py under uvicorn on a free port; its URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "bench._drain:app", "--port",
                             str(port), "--log-level", "warning"])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.post(url, content=b"", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the drain server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def drain_mbps(url: str, path: Path) -> float:
    """The same multipart form as `upload`, sent to the drain server."""
    with httpx.Client(timeout=900) as client, open(path, "rb") as f:
        start = time.perf_counter()
        r = client.post(url, files={"file": (path.name, f, "video/mp4")})
        seconds = time.perf_counter() - start
    if r.status_code != 200 or int(r.text) < path.stat().st_size:
        raise SystemExit(f"drain server: {r.status_code} {r.text[:200]}")
    return path.stat().st_size / MB / seconds


def copy_mbps(source: Path) -> float:
    target = source.with_name(source.name + ".copy")
    start = time.perf_counter()
    shutil.copyfile(source, target)
    with open(target, "rb") as f:
        os.fsync(f.fileno())
    seconds = time.perf_counter() - start
    target.unlink()
    return source.stat().st_size / MB / seconds


class RssSampler(threading.Thread):
    """The peak RSS of one process, sampled every `interval` seconds until stopped."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak = self.process.memory_info().rss
        self.samples = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            self.samples += 1
            self._done.wait(self.interval)

    def stop(self) -> None:
        self._done.set()
        self.join()


def upload(b: Bench, path: Path) -> str:
    """POST the file; returns the new media id (exits with what the server said otherwise)."""
    with open(path, "rb") as f:
        r = b.client.post("/api/upload/multipart", data={"datasetId": b.dataset_id},
                          files={"file": (path.name, f, "video/mp4")})
    if r.status_code != 201 or "mediaId" not in r.json():
        raise SystemExit(f"upload of {path.name}: {r.status_code} {r.text[:1000]}")
    return str(r.json()["mediaId"])


def _slices(data: bytes, size: int = MB) -> Iterator[memoryview]:
    """A body handed to httpx in 1 MiB views: given as one bytes object, httpx spent 1.7 s of
    CPU per 256 MiB sending it (measured against bench/_drain.py), 0.14 s this way."""
    view = memoryview(data)
    for start in range(0, len(data), size):
        yield view[start:start + size]


def upload_tus(b: Bench, path: Path, chunk: int, checksum: bool = True) -> str:
    """Create a tus upload, then PATCH it chunk by chunk (each with its Upload-Checksum, as
    tuspy sends when asked; tus-js-client and Uppy send none by default); the new media id."""
    size = path.stat().st_size
    meta = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}"
                    for k, v in {"datasetId": b.dataset_id, "filename": path.name}.items())
    r = b.client.post("/api/upload/tus", headers={
        "Tus-Resumable": "1.0.0", "Upload-Length": str(size), "Upload-Metadata": meta})
    if r.status_code != 201:
        raise SystemExit(f"tus create: {r.status_code} {r.text[:1000]}")
    url, offset = r.headers["location"], 0
    with open(path, "rb") as f:
        while data := f.read(chunk):
            headers = {"Tus-Resumable": "1.0.0", "Upload-Offset": str(offset),
                       "Content-Type": "application/offset+octet-stream",
                       "Content-Length": str(len(data))}
            if checksum:
                digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
                headers["Upload-Checksum"] = f"sha256 {digest}"
            r = b.client.patch(url, content=_slices(data), headers=headers)
            if r.status_code != 204:
                raise SystemExit(f"tus PATCH at {offset}: {r.status_code} {r.text[:1000]}")
            offset += len(data)
    return str(r.headers["coreviz-media-id"])


def measure(b: Bench, name: str, send: Callable[[], str], size: int, copy: float,
            floor: float) -> dict[str, Any]:
    """One upload, timed, with the server's RSS and CPU around it; its figures."""
    server = psutil.Process(b.pid)
    sampler = RssSampler(b.pid)
    before = sampler.peak
    cpu_before, client_before = sum(server.cpu_times()[:2]), time.process_time()
    sampler.start()
    start = time.perf_counter()
    try:
        media_id = send()
    finally:
        seconds = time.perf_counter() - start
        sampler.stop()
    server_cpu = sum(server.cpu_times()[:2]) - cpu_before
    client_cpu = time.process_time() - client_before
    media = b.client.get(f"/api/media/{media_id}").json()["media"]
    stored = media["sizeBytes"]
    check = "ok" if stored == size else f"MISMATCH: {stored:,} stored vs {size:,} sent"
    speed = size / MB / seconds
    print(f"{name}: mediaId {media_id}, sizeBytes {check}, duration {media.get('duration')}")
    print(f"copy {copy:.0f} MB/s | {name} {speed:.0f} MB/s ({seconds:.2f} s) | "
          f"ratio {speed / copy:.2f} (to the HTTP floor {speed / floor:.2f}) | server RSS "
          f"before {before / MB:.0f} MB, peak "
          f"{sampler.peak / MB:.0f} MB (+{(sampler.peak - before) / MB:.1f} MB, "
          f"{sampler.samples} samples)")
    print(f"cpu during {name}: server {server_cpu:.2f} s, client {client_cpu:.2f} s "
          f"({os.cpu_count()} cores)")
    return {"mb_per_s": round(speed, 1), "seconds": round(seconds, 2),
            "ratio_to_copy": round(speed / copy, 3),
            "ratio_to_http_floor": round(speed / floor, 3), "size_ok": stored == size,
            "rss_growth_mb": round((sampler.peak - before) / MB, 1),
            "server_cpu_s": round(server_cpu, 2), "client_cpu_s": round(client_cpu, 2)}


SENDERS = ("multipart", "tus", "tus-plain")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="file size in MB (2**20 B)")
    parser.add_argument("--mode", choices=("all", *SENDERS), default="all",
                        help="tus: with Upload-Checksum on every PATCH; tus-plain: without")
    parser.add_argument("--chunk-mb", type=int, default=8, help="tus: bytes per PATCH (MB)")
    args = parser.parse_args()
    return run(args.size_mb, list(SENDERS) if args.mode == "all" else [args.mode],
               args.chunk_mb)


def run(size_mb: int, modes: list[str], chunk_mb: int) -> None:
    # No in-process workers: the processing of one upload must not land in the next one's
    # figures (measured: a video being processed added 3 s of CPU and 260 MB to the next).
    with running("cvs-bench-upload-", env={"COREVIZ_WORKERS": "0"}) as b:
        small, big = b.root / "small.mp4", b.root / "big.mp4"
        video(small, seconds=3.0, size=(320, 240), fps=25)
        shutil.copyfile(small, big)
        pad_with_free_boxes(big, size_mb * MB)
        size = big.stat().st_size
        print(f"file: {size:,} bytes, a {probed_duration(big):.2f} s MP4 padded with free boxes")
        idle = psutil.Process(b.pid).memory_info().rss
        upload(b, small)  # warm-up: imports the video prober once
        upload_tus(b, small, chunk_mb * MB)
        copy = copy_mbps(big)
        with drain_server() as url:
            drain_mbps(url, small)  # warm-up
            drain = drain_mbps(url, big)
        print(f"copy {copy:.0f} MB/s | HTTP floor (uvicorn draining the form) {drain:.0f} MB/s "
              f"(ratio {drain / copy:.2f})")
        result: dict[str, Any] = {"size_bytes": size, "copy_mb_per_s": round(copy, 1),
                                  "http_floor_mb_per_s": round(drain, 1),
                                  "http_floor_ratio_to_copy": round(drain / copy, 3),
                                  "server_rss_idle_mb": round(idle / MB), "chunk_mb": chunk_mb,
                                  "cores": os.cpu_count()}
        senders = {"multipart": lambda: upload(b, big),
                   "tus": lambda: upload_tus(b, big, chunk_mb * MB),
                   "tus-plain": lambda: upload_tus(b, big, chunk_mb * MB, checksum=False)}
        for mode in modes:
            result[mode] = measure(b, mode, senders[mode], size, copy, drain)
        print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    try:
        main()
    except httpx.HTTPError as exc:
        raise SystemExit(f"HTTP error: {exc!r}") from exc
