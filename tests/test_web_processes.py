"""`serve` in several web processes (COREVIZ_WEB_PROCESSES): sizing, the settings its children
rebuild, and the real command serving, processing and stopping cleanly; and many more concurrent
requests than database connections and threads, all answered."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import signal

import httpx
import psutil
import pytest
from PIL import Image

from coreviz_studio import serving
from coreviz_studio.config import Settings
from tests.conftest import private_tmpdir
from tests.processes import Server, poll, postmaster_pid, server_on


def test_processes_are_the_setting_or_one_per_core_up_to_the_cap(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert serving.web_processes(Settings(web_processes=3)) == 3
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert serving.web_processes(Settings(web_processes=0)) == serving.AUTO_MAX
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert serving.web_processes(Settings(web_processes=0)) == 2
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert serving.web_processes(Settings(web_processes=0)) == 1


def test_a_warning_when_the_pools_may_exceed_max_connections() -> None:
    settings = Settings(db_pool_size=10)  # 32 connections at most per process
    assert serving.check_connections(3, settings, 100) is None  # 96 <= 97
    warning = serving.check_connections(4, settings, 100)
    assert warning and "128" in warning and "max_connections=100" in warning
    assert serving.check_connections(4, Settings(db_pool_size=5), 100) is None


def test_children_rebuild_the_parents_settings_without_workers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    parent = Settings(data_dir=tmp_path, port=8123, workers=2, db_pool_size=7,
                      database_url="postgresql://u@h/db", models="none")
    child = Settings(**json.loads(serving._child_settings(parent)))
    assert child.workers == 0  # processing runs once, in the supervisor
    assert child.model_dump(exclude={"workers"}) == parent.model_dump(exclude={"workers"})


def _picture() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 90)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.slow
def test_serve_in_two_processes_answers_processes_and_stops_everything() -> None:
    root = private_tmpdir("cvs-webproc-")
    try:
        server = Server(root / "data", env={"COREVIZ_WEB_PROCESSES": "2", "COREVIZ_WORKERS": "1",
                                            "COREVIZ_MODELS": "none"})
        supervisor = psutil.Process(server.proc.pid)
        web = [p for p in supervisor.children()
               if "multiprocessing.spawn" in " ".join(p.cmdline())
               and "resource_tracker" not in " ".join(p.cmdline())]
        assert len(web) == 2, [p.cmdline() for p in supervisor.children()]
        key = server.first_key()
        assert key, server.output()
        h = {"x-api-key": key}
        org = httpx.get(f"{server.url}/api/me", headers=h).json()["organizationId"]
        ds = httpx.post(f"{server.url}/api/organization/{org}/datasets", headers=h,
                        json={"name": "two"}).json()["id"]
        up = httpx.post(f"{server.url}/api/upload/multipart", headers=h,
                        data={"datasetId": ds}, files={"file": ("a.png", _picture(), "image/png")})
        assert up.status_code in (200, 201), up.text
        media_id = up.json()["mediaId"]

        def ready() -> bool:  # the supervisor's processing worker made its frame
            media = httpx.get(f"{server.url}/api/media/{media_id}", headers=h).json()["media"]
            return media["metadata"]["processing"]["status"] == "ready" and bool(media["frames"])
        poll(ready, 120, "the upload to be processed")
        # Many requests, spread over both processes by the kernel: every one answered.
        with httpx.Client(base_url=server.url, headers=h) as client:
            codes = {client.get(f"/api/dataset/{ds}/media").status_code for _ in range(30)}
        assert codes == {200}

        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(60) == 0, server.output()
        for p in web:
            assert not p.is_running() or p.status() == psutil.STATUS_ZOMBIE
        poll(lambda: postmaster_pid(root / "data" / "postgres") is None, 30,
             "PostgreSQL to stop")
        assert "Traceback" not in server.output(), server.output()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_more_concurrent_requests_than_connections_and_threads_are_all_answered(
        pg_url, make_member) -> None:  # type: ignore[no-untyped-def]
    """A pool of 1 (+1 overflow) and 80 requests at once, more than the 40 threads that run
    the routes: requests waiting for a connection inside those threads used to leave the
    holders of the connections no thread to finish in, until the pool's timeout (500s)."""
    m = make_member()
    with server_on(pg_url, "cvs-places-", COREVIZ_DB_POOL_SIZE="1") as server:
        async def burst() -> list[int]:
            async with httpx.AsyncClient(base_url=server.url, headers=m.headers, timeout=120,
                                         limits=httpx.Limits(max_connections=80)) as c:
                answers = await asyncio.gather(*(c.get("/api/me") for _ in range(80)))
            return [r.status_code for r in answers]
        codes = asyncio.run(burst())
    assert codes == [200] * 80, sorted(set(codes))
