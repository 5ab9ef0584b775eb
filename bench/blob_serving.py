"""Blob serving with S3: streamed through the server (GET /blobs/<key> reads from S3 and
passes the bytes on) vs a 307 to a presigned URL (COREVIZ_BLOB_REDIRECT=true: the client
follows it to S3). Both against the same moto_server, one blob of --size-mb fetched --count
times by one client, after one warm-up fetch each; the direct presigned GET is the floor.

moto is a Python server on this machine, not a network away: the figures compare what the
server adds (a hop, its CPU), not what a real bucket's bandwidth or latency would be.
Prints figures only, ending with one line `RESULT {json}`. From the repository root:
    .venv/bin/python -m bench.blob_serving [--size-mb 8] [--count 20]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from tests.processes import Server

from bench._moto import moto
from bench._server import MB, percentile
from coreviz_studio.config import Settings
from coreviz_studio.storage.base import put_stream
from coreviz_studio.storage.factory import build_store


def timed(client: httpx.Client, url: str, count: int, size: int) -> list[float]:
    client.get(url).raise_for_status()  # warm-up
    seconds = []
    for _ in range(count):
        start = time.perf_counter()
        r = client.get(url)
        seconds.append(time.perf_counter() - start)
        if r.status_code != 200 or len(r.content) != size:
            raise SystemExit(f"{url}: {r.status_code}, {len(r.content)} bytes")
    return seconds


def summary(seconds: list[float], size: int) -> dict[str, float]:
    return {"median_ms": round(statistics.median(seconds) * 1000, 2),
            "p90_ms": round(percentile(seconds, 90) * 1000, 2),
            "mb_per_s": round(size / MB / statistics.median(seconds), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=float, default=8.0, help="blob size, MB (2**20 B)")
    parser.add_argument("--count", type=int, default=20, help="fetches per way")
    args = parser.parse_args()
    size = int(args.size_mb * MB)
    root = Path(tempfile.mkdtemp(prefix="cvs-bench-serve-"))
    root.chmod(0o711)
    servers: list[Server] = []
    try:
        with moto() as (_, env):
            values = {k.removeprefix("COREVIZ_").lower(): v for k, v in env.items()}
            store = build_store(Settings(data_dir=root / "put", **values))
            key = put_stream(store, iter([os.urandom(size)]), "jpg")
            for redirect in ("false", "true"):
                servers.append(Server(root / f"redirect-{redirect}", env={
                    **env, "COREVIZ_BLOB_REDIRECT": redirect, "COREVIZ_MODELS": "none",
                    "COREVIZ_WORKERS": "0"}))
            streamed, redirected = (f"{s.url}/blobs/{key}" for s in servers)
            with httpx.Client(timeout=300, follow_redirects=True) as client:
                figures = {
                    "streamed": summary(timed(client, streamed, args.count, size), size),
                    "redirected": summary(timed(client, redirected, args.count, size), size),
                    "direct": summary(timed(client, store.presigned_url(key, 600) or "",
                                            args.count, size), size),
                }
    finally:
        for server in servers:
            server.terminate()
        shutil.rmtree(root, ignore_errors=True)
    for way, f in figures.items():
        print(f"{way:>10}: median {f['median_ms']} ms, p90 {f['p90_ms']} ms, "
              f"{f['mb_per_s']} MB/s")
    print("RESULT " + json.dumps({"size_bytes": size, "count": args.count, **figures,
                                  "cpu_count": os.cpu_count()}))


if __name__ == "__main__":
    main()
