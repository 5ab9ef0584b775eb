"""Upload throughput to S3: one file through POST /api/upload/multipart to a server whose blobs
live in a bucket (moto_server), as a ratio to boto3's own `upload_file` of the same bytes to
the same server (its defaults: multipart above 8 MB, 10 threads). The server's figure
includes what boto3's does not: the HTTP form, the spool file, probing, our sha256/MD5, the
stored-bytes check and the database row. A warm-up upload of a small file comes first.

The file is the MP4 of bench/upload.py, padded with `free` boxes to --size-mb (so the server
accepts it as a video). moto is a Python server on this machine: the ratio says how much the
server's path costs next to a plain S3 client's, not what a real bucket would sustain.
Prints figures only, ending with one line `RESULT {json}`. From the repository root:
    .venv/bin/python -m bench.upload_s3 [--size-mb 256]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time

from tests.media_files import video
from tests.s3_server import BUCKET

from bench._moto import moto
from bench._server import MB, running
from bench.upload import pad_with_free_boxes, upload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=256, help="file size in MB (2**20 B)")
    args = parser.parse_args()
    with moto() as (s3, env), running("cvs-bench-upload-s3-", env={
            **env, "COREVIZ_MODELS": "none", "COREVIZ_WORKERS": "0"}) as b:
        small, big = b.root / "small.mp4", b.root / "big.mp4"
        video(small, seconds=3.0, size=(320, 240), fps=25)
        shutil.copyfile(small, big)
        pad_with_free_boxes(big, args.size_mb * MB)
        size = big.stat().st_size
        upload(b, small)  # warm-up: imports the video prober once

        client = s3.client()
        client.upload_file(str(small), BUCKET, "bench-warm-up")  # warm-up: boto3's transfer
        start = time.perf_counter()
        client.upload_file(str(big), BUCKET, f"bench-boto3-{os.getpid()}")
        boto3_s = time.perf_counter() - start

        start = time.perf_counter()
        media_id = upload(b, big)
        server_s = time.perf_counter() - start
        stored = b.client.get(f"/api/media/{media_id}").json()["media"]["sizeBytes"]
        if stored != size:
            raise SystemExit(f"stored {stored:,} bytes of {size:,}")
    figures = {"size_bytes": size, "boto3_upload_file_mb_per_s": round(size / MB / boto3_s, 1),
               "server_upload_mb_per_s": round(size / MB / server_s, 1),
               "ratio": round(boto3_s / server_s, 3), "cpu_count": os.cpu_count()}
    print(f"boto3 upload_file {figures['boto3_upload_file_mb_per_s']} MB/s ({boto3_s:.2f} s) | "
          f"server upload {figures['server_upload_mb_per_s']} MB/s ({server_s:.2f} s) | "
          f"ratio {figures['ratio']}")
    print("RESULT " + json.dumps(figures))


if __name__ == "__main__":
    main()
