"""Scale-out, for real: an API server and a worker in separate processes with separate data
dirs, sharing only a PostgreSQL database and an S3 bucket (moto_server). An upload to the
server is processed by the worker, and the server serves the worker's frames and thumbnail from
the bucket."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from tests import media_files
from tests.conftest import private_tmpdir
from tests.processes import Server, Worker, poll
from tests.s3_server import MotoServer

pytestmark = pytest.mark.slow


@pytest.fixture
def shared_database(pg_url: str) -> Iterator[str]:
    """A database of its own in the test cluster, so the worker sees only this test's jobs
    (and the server's first start makes an owner whose key it prints)."""
    name = f"scaleout_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield pg_url.replace("@/coreviz?", f"@/{name}?")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _frames(client: httpx.Client, media_id: str) -> tuple[str, list[dict[str, Any]]]:
    media = client.get(f"/api/media/{media_id}").json()["media"]
    return media["metadata"]["processing"]["status"], media.get("frames") or []


def test_a_worker_elsewhere_processes_what_the_server_received(
        s3_server: MotoServer, shared_database: str) -> None:
    assert "@/scaleout_" in shared_database
    root = private_tmpdir("cvs-scale-")
    env = {**s3_server.env(f"scale-{uuid.uuid4().hex[:8]}/"), "DATABASE_URL": shared_database,
           "COREVIZ_MODELS": "none", "COREVIZ_WORKERS": "0",
           "COREVIZ_WORKER_HEARTBEAT_SECONDS": "0.5"}
    server = Server(root / "api", env=env)
    worker = None
    try:
        key = server.first_key()
        assert key, server.output()
        client = httpx.Client(base_url=server.url, headers={"x-api-key": key}, timeout=30)
        org = client.get("/api/me").json()["organizationId"]
        ds = client.post(f"/api/organization/{org}/datasets", json={"name": "Scaled"}).json()
        photo = media_files.photo("astronaut")
        r = client.post("/api/upload/multipart", data={"datasetId": ds["id"]},
                        files={"file": ("astronaut.jpg", photo, "image/jpeg")})
        assert r.status_code == 201, r.text
        media_id = r.json()["mediaId"]
        assert not (root / "api" / "blobs").exists() or not any(
            (root / "api" / "blobs").rglob("*.jpg"))  # nothing stored on the server's disk

        worker = Worker(root / "worker", "scale", env=env)  # another data dir: only S3 shared
        status, frames = poll(lambda: (found := _frames(client, media_id))[0] in (
            "ready", "failed") and found, 180, "the worker to process the upload")
        assert status == "ready", (frames, worker.output())
        assert frames, "no frames"
        for frame in frames:
            for url in (frame["blob"], frame["thumbnailBlob"]):
                assert url and url.startswith(server.url + "/blobs/")
                got = httpx.get(url, timeout=30)
                assert got.status_code == 200, got.text
                assert got.content[:3] == b"\xff\xd8\xff"  # a JPEG
        media = client.get(f"/api/media/{media_id}").json()["media"]
        original = httpx.get(media["blob"])
        assert original.status_code == 200 and original.content == photo
        preview = httpx.get(media["thumbnail"], timeout=30)  # the worker's, from the bucket
        assert preview.status_code == 200 and preview.content[8:12] == b"WEBP"
        assert worker.proc.poll() is None, worker.output()
    finally:
        if worker is not None:
            worker.terminate()
        server.terminate()
        shutil.rmtree(root, ignore_errors=True)
