"""A server that heals: the embedded PostgreSQL killed under a running server and worker, a
full disk, and the leftovers of killed processes."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from coreviz_studio import owners
from coreviz_studio.config import Settings
from coreviz_studio.pipeline.decode import Limits
from coreviz_studio.pipeline.process import scratch_dir, sweep_scratch
from coreviz_studio.pipeline.sandbox import decode_isolated
from coreviz_studio.storage.local import LocalBlobStore
from tests import jobs, media_files
from tests.conftest import private_tmpdir
from tests.processes import Server, Worker, pgdata_of, poll, postmaster_pid

QUIET = {"COREVIZ_MODELS": "none", "COREVIZ_WORKERS": "0",
         "COREVIZ_WORKER_HEARTBEAT_SECONDS": "0.5"}


@pytest.fixture
def root():  # type: ignore[no-untyped-def]
    path = private_tmpdir("cvs-heal-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _dead_owner() -> str:
    """The owner tag of a process that has just ended."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    tag = owners.of(psutil.Process(proc.pid))
    proc.kill()
    proc.wait()
    return tag


def _client(server: Server) -> httpx.Client:
    key = server.first_key()
    assert key, server.output()
    return httpx.Client(base_url=server.url, headers={"x-api-key": key}, timeout=30)


def _dataset(client: httpx.Client, name: str) -> str:
    org = client.get("/api/me").json()["organizationId"]
    r = client.post(f"/api/organization/{org}/datasets", json={"name": name})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _upload(client: httpx.Client, ds: str, data: bytes, name: str) -> httpx.Response:
    return client.post("/api/upload/multipart", data={"datasetId": ds},
                       files={"file": (name, data, "image/png")})


def _processing(client: httpx.Client, media_id: str) -> dict:  # type: ignore[type-arg]
    return client.get(f"/api/media/{media_id}").json()["media"]["metadata"]["processing"]


def test_leftovers_of_dead_owners_go_whatever_their_age(root: Path) -> None:
    store = LocalBlobStore(root / "blobs")
    settings = Settings(data_dir=root / "data", database_url="postgresql://unused")
    dead, alive = _dead_owner(), owners.me()
    for owner in (dead, alive):
        (store.tmp_dir / f"{owner}.{'a' * 32}.part").write_bytes(b"half an upload")
        folder = scratch_dir(settings) / f"frames-{owner}.x1y2"
        folder.mkdir()
        (folder / "00000.jpg").write_bytes(b"a frame")
    unknown = store.tmp_dir / "1234-ab-cdef.part"  # no owner recorded: judged by age
    unknown.write_bytes(b"")
    assert store.reap_pending() == 1
    assert sweep_scratch(settings) == 1
    assert sorted(p.name for p in store.tmp_dir.iterdir()) == sorted(
        [f"{alive}.{'a' * 32}.part", unknown.name])
    assert [p.name for p in scratch_dir(settings).iterdir()] == [f"frames-{alive}.x1y2"]
    # A blob being written now is named by this (live) process and survives a reap.
    pending = store.begin()
    pending.write(b"bytes")
    (part,) = [p for p in store.tmp_dir.iterdir() if p.name.startswith(f"{alive}.")
               and p.name != f"{alive}.{'a' * 32}.part"]
    store.reap_pending()
    assert part.exists()
    pending.discard()
    assert not part.exists()


@pytest.mark.slow
def test_postmaster_kill_9_heals_server_and_worker(root: Path) -> None:
    data_dir = root / "data"
    # Leftovers planted before the start: a dead process's go at once, a live one's stay.
    dead, alive = _dead_owner(), owners.me()
    blob_tmp, scratch = data_dir / "blobs" / "tmp", data_dir / "tmp"
    blob_tmp.mkdir(parents=True)
    scratch.mkdir()
    for owner in (dead, alive):
        (blob_tmp / f"{owner}.{'b' * 32}.part").write_bytes(b"partial")
        (scratch / f"frames-{owner}.abcd").mkdir()

    server = Server(data_dir, env=QUIET)
    worker = None
    try:
        client = _client(server)
        ds = _dataset(client, "Before the kill")
        worker = Worker(data_dir, "heal", env=QUIET)
        poll(lambda: "Starting worker" in worker.output(), 90, "the worker to start")
        assert [p.name for p in blob_tmp.iterdir()] == [f"{alive}.{'b' * 32}.part"]
        assert [p.name for p in scratch.iterdir()] == [f"frames-{alive}.abcd"]

        pgdata = pgdata_of(data_dir)
        old = postmaster_pid(pgdata)
        assert old is not None
        os.kill(old, signal.SIGKILL)
        killed = time.monotonic()
        answers: list[httpx.Response] = []

        def answering() -> bool:
            for path in ("/healthz", "/api/me"):
                answers.append(client.get(path))
                if answers[-1].status_code != 200:
                    return False
            return True

        # A backend that has not yet seen its postmaster die can still answer the first
        # request, so "healed" is: answering again and served by a new postmaster.
        poll(lambda: answering() and postmaster_pid(pgdata) not in (None, old), 60,
             "the server to answer again from a new postmaster after the kill -9")
        print(f"\npostmaster kill -9 -> 200 again in {time.monotonic() - killed:.2f} s")
        down = [r for r in answers if r.status_code != 200]
        assert all(r.status_code == 503 for r in down), [(r.status_code, r.text) for r in down]
        assert all("unavailable" in r.json()["message"].lower() for r in down)
        assert server.proc.poll() is None  # healed without a restart
        org = client.get("/api/me").json()["organizationId"]
        assert [d["id"] for d in client.get(f"/api/organization/{org}/datasets").json()] == [ds]

        # The separate worker waited, reconnected, and processes new work.
        r = _upload(client, ds, media_files.image("PNG", (32, 32)), "after.png")
        assert r.status_code == 201, r.text
        media_id = r.json()["mediaId"]
        poll(lambda: _processing(client, media_id)["status"] == "ready", 120,
             "the worker to process an upload after the kill")
        assert worker.proc.poll() is None, worker.output()
    finally:
        if worker is not None:
            worker.terminate()
        server.terminate()


@pytest.fixture
def small_disk(root: Path):  # type: ignore[no-untyped-def]
    """An 8 MB filesystem (a tmpfs), to fill up."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mnt = root / "small"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs",
                           str(mnt)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(directory: Path) -> Path:
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\xff" * 65536)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


@pytest.mark.slow
def test_a_full_disk_answers_507_and_jobs_wait_for_space(root: Path, small_disk: Path) -> None:
    data_dir = root / "data"
    data_dir.mkdir()
    (small_disk / "scratch").mkdir()
    (data_dir / "tmp").symlink_to(small_disk / "scratch")  # decoding writes there too
    env = {**QUIET, "COREVIZ_BLOB_DIR": str(small_disk / "blobs"),
           "COREVIZ_MIN_FREE_DISK_MB": "1", "COREVIZ_WAIT_RETRY_SECONDS": "1"}
    server = Server(data_dir, env=env)
    worker = None
    try:
        client = _client(server)
        ds = _dataset(client, "Full disk")
        r = _upload(client, ds, media_files.image("PNG", (64, 64)), "early.png")
        assert r.status_code == 201, r.text
        early = r.json()["mediaId"]  # queued; no worker runs yet
        assert client.get("/healthz").json()["status"] == "ok"

        filler = _fill(small_disk)
        health = client.get("/healthz")
        assert health.status_code == 200  # degraded, still serving
        body = health.json()
        assert (body["status"], body["database"]) == ("degraded", "ok")
        assert body["disk"]["blobs"]["ok"] is False and body["disk"]["blobs"]["freeMb"] < 1
        assert any(p.startswith("blobs:") and "COREVIZ_MIN_FREE_DISK_MB" in p
                   for p in body["problems"])

        r = _upload(client, ds, media_files.image("PNG", (256, 256), noise=True), "full.png")
        assert r.status_code == 507, r.text
        assert r.json()["message"].startswith("The server's disk is full")
        assert list((small_disk / "blobs" / "tmp").iterdir()) == []  # no partial file
        listed = client.get(f"/api/dataset/{ds}/media").json()["media"]
        assert [m["id"] for m in listed] == [early]

        # The decoder's child tells a full disk from a bad file.
        out = small_disk / "scratch" / "direct"
        out.mkdir()
        with pytest.raises(OSError) as raised:
            decode_isolated("image", _source(root), out, Limits(), timeout=60, memory_mb=1024)
        assert raised.value.errno == errno.ENOSPC

        # A job that hits the full disk waits, queued, instead of failing.
        worker = Worker(data_dir, "disk", env=env)
        seen: list[str] = []

        def waiting() -> bool:
            state = _processing(client, early)
            seen.append(state["status"])
            return state.get("waitingFor") == "disk space"

        poll(waiting, 120, "the job to wait for disk space")
        state = _processing(client, early)
        assert state["status"] == "queued" and "Waiting for disk space" in state["message"]

        filler.unlink()

        def ready() -> bool:
            seen.append(_processing(client, early)["status"])
            return seen[-1] == "ready"

        poll(ready, 120, "the job to finish once space is free")
        assert "failed" not in seen
        assert _processing(client, early)["attempt"] == 1  # waiting used no attempt
        assert worker.proc.poll() is None
        assert client.get("/healthz").json()["status"] == "ok"
        r = _upload(client, ds, media_files.image("PNG", (64, 64)), "later.png")
        assert r.status_code == 201, r.text
    finally:
        if worker is not None:
            worker.terminate()
        server.terminate()


def _source(root: Path) -> Path:
    path = root / "source.png"
    path.write_bytes(media_files.image("PNG", (256, 256), noise=True))
    return path


def test_a_worker_waits_for_its_database_instead_of_exiting(root: Path, settings,  # type: ignore[no-untyped-def]
                                                            database, caplog) -> None:
    """No PostgreSQL at the worker's URL (the socket's directory is empty): it keeps trying,
    saying so, until it is told to stop."""
    import asyncio
    import logging
    from dataclasses import replace

    from coreviz_studio.pipeline import worker

    nowhere = f"postgresql://postgres@/coreviz?host={root}&port=5432"
    pipe = jobs.pipeline(settings, database, models="none")
    pipe = replace(pipe, db=replace(database, url=nowhere))

    async def go() -> None:
        task = asyncio.create_task(worker.run(pipe))
        deadline = time.monotonic() + 60
        while caplog.text.count("waits") < 2:
            assert not task.done(), "the worker exited"
            assert time.monotonic() < deadline, caplog.text
            await asyncio.sleep(0.1)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    with caplog.at_level(logging.WARNING, logger="coreviz_studio.pipeline.worker"):
        asyncio.run(go())
    assert "the database is unavailable" in caplog.text


def test_a_full_database_disk_answers_507_and_a_job_waits_for_it() -> None:
    """What PostgreSQL raises when its disk is full (SQLSTATE 53100) is a 507 for requests
    and a reason to wait, not to fail, for jobs."""
    import psycopg
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from coreviz_studio.app import install_error_handlers
    from coreviz_studio.pipeline import transient

    full = OperationalError("INSERT ...", {}, psycopg.errors.DiskFull("could not extend file"))
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/write")
    def write() -> None:
        raise full

    r = TestClient(app).get("/write")
    assert r.status_code == 507 and r.json()["message"].startswith("The database's disk is full")
    assert transient.waits_for(full) == transient.DATABASE_DISK
    assert transient.waits_for(OSError(errno.ENOSPC, "No space left on device")) == transient.DISK
    gone = OperationalError("SELECT 1", {}, psycopg.OperationalError("connection refused"))
    assert transient.waits_for(gone) == transient.DATABASE
    assert transient.waits_for(OperationalError(
        "INSERT ...", {}, psycopg.errors.ProgramLimitExceeded("index row too large"))) is None
    assert transient.waits_for(ProgrammingError("SELECT", {}, Exception("typo"))) is None
    assert transient.waits_for(ValueError("the file's fault")) is None
