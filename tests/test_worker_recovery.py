"""A worker killed mid-job: another worker notices its silent heartbeat, runs the job again,
and the media ends ready once, with no duplicated frames, captions or objects."""

from __future__ import annotations

import shutil
import time

import httpx
import pytest

from tests import media_files
from tests.conftest import private_tmpdir
from tests.processes import Server, Worker

pytestmark = pytest.mark.slow

FAST_RECOVERY = {"COREVIZ_WORKERS": "0", "COREVIZ_WORKER_HEARTBEAT_SECONDS": "0.5",
                 "COREVIZ_STALLED_AFTER_SECONDS": "3", "COREVIZ_VIDEO_FRAME_INTERVAL_SECONDS": "1",
                 "COREVIZ_WORKER_CONCURRENCY": "1"}


@pytest.fixture
def data_dir():  # type: ignore[no-untyped-def]
    root = private_tmpdir("cvs-worker-")
    yield root / "data"
    shutil.rmtree(root, ignore_errors=True)


def _state(client: httpx.Client, media_id: str) -> dict:  # type: ignore[type-arg]
    return client.get(f"/api/media/{media_id}").json()["media"]


def test_killed_worker_job_is_recovered_once(data_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = Server(data_dir, env=FAST_RECOVERY)
    workers: list[Worker] = []
    try:
        key = server.first_key()
        assert key
        client = httpx.Client(base_url=server.url, headers={"x-api-key": key}, timeout=30)
        org = client.get("/api/me").json()["organizationId"]
        ds = client.post(f"/api/organization/{org}/datasets", json={"name": "Clips"}).json()["id"]
        # Long enough (a frame a second, each through every model) to be caught mid-job.
        video = media_files.video_with_cut(tmp_path / "long.mp4", cut_at=3.0, seconds=6.0,
                                           size=(320, 240))
        r = client.post("/api/upload/multipart", data={"datasetId": ds},
                        files={"file": ("long.mp4", video, "video/mp4")})
        assert r.status_code == 201, r.text
        media_id = r.json()["mediaId"]

        workers.append(Worker(data_dir, "first", env=FAST_RECOVERY))
        deadline = time.monotonic() + 120
        while _state(client, media_id)["metadata"]["processing"]["status"] != "processing":
            assert time.monotonic() < deadline, workers[0].output()
            time.sleep(0.05)
        workers[0].kill9()  # mid-job: frames decoded or models running, nothing stored
        assert _state(client, media_id)["metadata"]["processing"]["status"] == "processing"

        workers.append(Worker(data_dir, "second", env=FAST_RECOVERY))
        deadline = time.monotonic() + 180
        while (state := _state(client, media_id))["metadata"]["processing"]["status"] != "ready":
            assert state["metadata"]["processing"]["status"] != "failed", state["metadata"]
            assert time.monotonic() < deadline, workers[1].output()
            time.sleep(0.2)
        processing = state["metadata"]["processing"]
        assert processing["attempt"] == 2
        assert "left by a stopped worker" in workers[1].output()
        frames = state["frames"]
        stamps = [f["timestamp"] for f in frames]
        assert len(stamps) == len(set(stamps)) == processing["frames"] >= 6
        assert all(len(f["captions"]) == 1 for f in frames)
        assert "3" in stamps  # the hard cut is a frame of its own
    finally:
        for worker in workers:
            worker.terminate()
        server.terminate()
