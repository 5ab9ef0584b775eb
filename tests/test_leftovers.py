"""A server killed during uploads leaves nothing behind once it is started again and the sweep
has run: no partial files, and no stored blob that no row references."""

from __future__ import annotations

import shutil
import socket
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from coreviz_studio.config import Settings
from coreviz_studio.db.session import open_database
from coreviz_studio.lifecycle.sweep import sweep_orphans
from coreviz_studio.storage.base import put_stream
from coreviz_studio.storage.local import LocalBlobStore
from tests import media_files
from tests.conftest import private_tmpdir
from tests.processes import QUIET, Server, poll

pytestmark = pytest.mark.slow

BOUNDARY = "cvs-leftovers"


@pytest.fixture
def data_dir():  # type: ignore[no-untyped-def]
    root = private_tmpdir("cvs-leftovers-")
    yield root / "data"
    shutil.rmtree(root, ignore_errors=True)


def _half_upload(server: Server, key: str, dataset: str) -> socket.socket:
    """An upload that has sent 3 MiB of the 50 MiB it announced, and then nothing."""
    form = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"datasetId\"\r\n\r\n"
            f"{dataset}\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
            "filename=\"big.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").encode()
    head = (f"POST /api/upload/multipart HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"x-api-key: {key}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {50 * 1024 * 1024}\r\n\r\n").encode()
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(head + form + b"\xff\xd8\xff" + b"\0" * (3 * 1024 * 1024))
    return sock


def _referenced(client: httpx.Client, dataset: str) -> set[str]:
    media = client.get(f"/api/dataset/{dataset}/media", params={"limit": 100}).json()["media"]
    return {m["blob"].split("/blobs/", 1)[1] for m in media if m.get("blob")}


def test_a_kill_during_uploads_leaves_no_partial_files_and_no_orphans(data_dir: Path) -> None:
    server = Server(data_dir, env=QUIET)
    key = server.first_key()
    assert key, server.output()
    client = httpx.Client(base_url=server.url, headers={"x-api-key": key}, timeout=60)
    org = client.get("/api/me").json()["organizationId"]
    dataset = client.post(f"/api/organization/{org}/datasets", json={"name": "Kill"}).json()["id"]
    pending = LocalBlobStore(data_dir / "blobs").tmp_dir

    def whole(i: int) -> int:
        return client.post("/api/upload/multipart", data={"datasetId": dataset}, files={
            "file": (f"p{i}.png", media_files.image("PNG", (48, 48), noise=True), "image/png")
        }).status_code

    halves = [_half_upload(server, key, dataset) for _ in range(10)]
    with ThreadPoolExecutor(4) as pool:
        finished = list(pool.map(whole, range(10)))  # while the halves hang
    assert finished == [201] * 10
    poll(lambda: len(list(pending.iterdir())) >= 10, 60, "ten pending uploads on disk")
    server.kill9()
    for sock in halves:
        sock.close()
    assert len(list(pending.iterdir())) >= 10  # what the killed process left

    restarted = Server(data_dir, env=QUIET)
    try:
        assert list(pending.iterdir()) == []  # removed at the start, whatever their age
        client = httpx.Client(base_url=restarted.url, headers={"x-api-key": key}, timeout=60)
        referenced = _referenced(client, dataset)
        assert len(referenced) == 10
        store = LocalBlobStore(data_dir / "blobs")
        assert {b.key for b in store.list_blobs()} == referenced  # each blob has its row
        # A blob stored by a process killed before its row committed (planted: the kill
        # cannot be timed to land there) is what the sweep is for.
        orphan = put_stream(store, iter([b"\xff\xd8\xff" + b"\0" * 1000]), "jpg")
        db = open_database(Settings(data_dir=data_dir, database_url=None))  # its embedded one
        try:
            later = datetime.now(UTC) + timedelta(hours=25)  # past the 24 h grace
            assert sweep_orphans(db, store, timedelta(hours=24), later) == 1
        finally:
            db.close()
        assert {b.key for b in store.list_blobs()} == referenced
        assert orphan not in referenced
    finally:
        restarted.terminate()
