"""The processing queue: transactional enqueue, frames per kind, idempotent re-runs, failures."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from coreviz_studio.db.tables import Caption, Embedding, Frame
from tests import media_files
from tests.jobs import drain, jobs_of, pipeline
from tests.library import Library


@pytest.fixture
def lib(client, make_member) -> Library:  # type: ignore[no-untyped-def]
    return Library(client, make_member())


def test_upload_queues_one_job_in_its_transaction(lib: Library, database) -> None:  # type: ignore[no-untyped-def]
    media = lib.upload(media_files.image("PNG", (80, 60)), "a.png")
    assert media["metadata"]["processing"]["status"] == "queued"
    jobs = jobs_of(database, media["id"])
    assert [j["status"] for j in jobs] == ["todo"]
    # A refused upload (415) leaves no job behind: none for this organization's media, and
    # none for a media that does not exist (other organizations' jobs are not counted).
    mine = text("SELECT count(*) FROM procrastinate_jobs j WHERE NOT EXISTS ("
                "SELECT 1 FROM media m WHERE m.id::text = j.args->>'media_id' "
                "AND m.organization_id <> :org)")
    with database.engine.connect() as c:
        before = c.scalar(mine, {"org": lib.member.org_id})
    assert before >= 1
    assert lib.upload_raw(b"<html>no</html>", "x.jpg").status_code == 415
    with database.engine.connect() as c:
        assert c.scalar(mine, {"org": lib.member.org_id}) == before


def test_image_video_pdf_frames(lib: Library, settings, database, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    photo = lib.upload(media_files.image("JPEG", (400, 300), orientation=6), "turned.jpg")
    clip = lib.upload(media_files.video_with_cut(tmp_path / "v.mp4", cut_at=2.0, seconds=4.0),
                      "cut.mp4")
    doc = lib.upload(media_files.pdf_with_text(["Quarterly report", "Second page"]), "r.pdf")
    drain(pipeline(settings, database, models="none"), [photo["id"], clip["id"], doc["id"]])

    photo = lib.media(photo["id"])
    assert photo["metadata"]["processing"]["status"] == "ready"
    [frame] = photo["frames"]
    assert (frame["width"], frame["height"]) == (300, 400)  # EXIF orientation 6 applied
    assert frame["timestamp"] == "0" and frame["blob"] and frame["thumbnailBlob"]
    assert frame["captions"][0]["model"] == "composed"
    blob = lib.client.get(frame["thumbnailBlob"].split("//", 1)[1].split("/", 1)[1].join(
        ["/", ""]))
    assert blob.status_code == 200 and blob.headers["content-type"] == "image/jpeg"

    clip = lib.media(clip["id"])
    stamps = [(f["timestamp"], f["endTimestamp"]) for f in clip["frames"]]
    assert stamps == [("0", "2"), ("2", "4")], stamps  # the first frame, then the hard cut
    assert clip["duration"] == pytest.approx(4.0, abs=0.2)

    doc = lib.media(doc["id"])
    assert [(f["pageNumber"], f["text"]) for f in doc["frames"]] == [
        (1, "Quarterly report"), (2, "Second page")]
    assert doc["pageCount"] == 2


def test_rerun_replaces_instead_of_duplicating(lib: Library, settings, database) -> None:  # type: ignore[no-untyped-def]
    import uuid

    from coreviz_studio.pipeline.process import process

    media = lib.upload(media_files.image("PNG", (64, 64)), "once.png")
    pipe = pipeline(settings, database, models="none")
    drain(pipe, [media["id"]])
    first = lib.media(media["id"])["frames"][0]
    # A job whose steps are all done and current has nothing to do; a reprocess decodes again.
    assert process(pipe, uuid.UUID(media["id"])) == "ready"
    assert lib.media(media["id"])["frames"][0]["id"] == first["id"]
    for _ in range(2):
        assert lib.client.post(f"/api/media/{media['id']}/reprocess",
                               headers=lib.headers).status_code == 202
        drain(pipe, [media["id"]])
    with database.system_sessions() as s:
        frames = s.scalar(select(func.count()).select_from(Frame)
                          .where(Frame.media_id == uuid.UUID(media["id"])))
        captions = s.scalar(select(func.count()).select_from(Caption).join(Frame)
                            .where(Frame.media_id == uuid.UUID(media["id"])))
        vectors = s.scalar(select(func.count()).select_from(Embedding)
                           .where(Embedding.media_id == uuid.UUID(media["id"])))
    assert (frames, captions, vectors) == (1, 1, 0)
    # The replaced frame's files are gone; the new ones are served.
    old_key = first["blob"].rsplit("/blobs/", 1)[1]
    assert not (settings.effective_blob_dir() / old_key).exists()


def test_undecodable_file_fails_readably_and_the_worker_goes_on(  # type: ignore[no-untyped-def]
        lib: Library, settings, database) -> None:
    good = media_files.image("JPEG", (300, 200), noise=True)
    broken = lib.upload(good[: len(good) // 3], "cut.jpg")  # sound header, truncated pixels
    fine = lib.upload(media_files.image("PNG", (50, 50)), "fine.png")
    drain(pipeline(settings, database, models="none"), [broken["id"], fine["id"]])
    state = lib.media(broken["id"])["metadata"]["processing"]
    assert state["status"] == "failed"
    assert "cannot be decoded" in state["error"] and "/" not in state["error"]
    assert lib.media(fine["id"])["metadata"]["processing"]["status"] == "ready"
    # A decoding failure is final: not retried, the job itself ended.
    assert [j["status"] for j in jobs_of(database, broken["id"])] in ([], ["succeeded"])


def test_deleted_before_processing_is_skipped(lib: Library, settings, database) -> None:  # type: ignore[no-untyped-def]
    media = lib.upload(media_files.image("PNG", (40, 40)), "gone.png")
    assert lib.client.delete(f"/api/media/{media['id']}", headers=lib.headers).status_code == 200
    drain(pipeline(settings, database, models="none"), [media["id"]])
    with database.system_sessions() as s:
        import uuid

        assert s.scalar(select(func.count()).select_from(Frame)
                        .where(Frame.media_id == uuid.UUID(media["id"]))) == 0


class _Flaky:
    """A model that fails its first call (a transient error: a full disk, a lost endpoint)."""

    name = "flaky"

    def __init__(self) -> None:
        self.calls = 0

    def classify(self, image):  # type: ignore[no-untyped-def]
        from coreviz_studio.ai.types import Moderation

        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("temporarily unavailable")
        return Moderation({"nsfw": 0.01}, [], "flaky")


def _due_now(database, media_id: str) -> None:  # type: ignore[no-untyped-def]
    """Make the media's waiting retry due now (instead of sleeping through its backoff)."""
    with database.engine.begin() as c:
        c.execute(text("UPDATE procrastinate_jobs SET scheduled_at = now() "
                       "WHERE args->>'media_id' = :m AND status = 'todo'"), {"m": media_id})


def test_a_failing_step_is_retried_with_backoff_alone(lib: Library, settings, database) -> None:  # type: ignore[no-untyped-def]
    from coreviz_studio.ai.registry import Models
    from coreviz_studio.pipeline.process import Pipeline

    flaky = _Flaky()

    class FlakyPipeline(Pipeline):
        def models(self) -> Models:
            return Models(moderator=flaky)  # type: ignore[arg-type]

    media = lib.upload(media_files.image("PNG", (32, 32)), "flaky.png")
    base = pipeline(settings, database, job_retry_backoff_seconds=30)
    pipe = FlakyPipeline(base.db, base.store, base.settings)
    drain(pipe, [media["id"]])
    item = lib.media(media["id"])
    state = item["metadata"]["processing"]
    # Usable (decoded, captioned) while the failed step waits for its retry.
    assert state["status"] == "ready" and state["willRetry"] is True
    assert state["failedSteps"] == ["moderation"]
    step = state["steps"]["moderation"]
    assert step["status"] == "failed" and "temporarily unavailable" in step["error"]
    assert step["willRetry"] is True and step["attempt"] == 1
    assert state["steps"]["caption"]["status"] == "ready"
    assert [j["status"] for j in jobs_of(database, media["id"])] == ["todo"]
    frame = item["frames"][0]
    _due_now(database, media["id"])
    drain(pipe, [media["id"]])
    item = lib.media(media["id"])
    state = item["metadata"]["processing"]
    assert state["status"] == "ready" and "failedSteps" not in state
    assert state["attempt"] == 2 and state["steps"]["moderation"]["attempt"] == 2
    assert item["metadata"]["moderation"]["status"] == "approved"
    assert [f["id"] for f in item["frames"]] == [frame["id"]]  # not decoded again
    assert flaky.calls == 2


def test_the_last_attempt_leaves_the_step_failed(lib: Library, settings, database) -> None:  # type: ignore[no-untyped-def]
    from coreviz_studio.ai.registry import Models
    from coreviz_studio.pipeline.process import Pipeline

    class Broken(_Flaky):
        def classify(self, image):  # type: ignore[no-untyped-def]
            raise RuntimeError("model file is corrupt")

    class BrokenPipeline(Pipeline):
        def models(self) -> Models:
            return Models(moderator=Broken())  # type: ignore[arg-type]

    media = lib.upload(media_files.image("PNG", (32, 32)), "doomed.png")
    base = pipeline(settings, database, job_attempts=1)
    drain(BrokenPipeline(base.db, base.store, base.settings), [media["id"]])
    item = lib.media(media["id"])
    state = item["metadata"]["processing"]
    assert state["status"] == "ready" and state["failedSteps"] == ["moderation"]
    assert "reprocess --step moderation" in state["note"] and "willRetry" not in state
    assert "model file is corrupt" in state["steps"]["moderation"]["error"]
    assert item["frames"][0]["captions"]  # the other steps' work is there
    assert [j["status"] for j in jobs_of(database, media["id"])] in ([], ["succeeded"])

    # `reprocess --failed` picks the item up for its failed step only.
    from typer.testing import CliRunner

    from coreviz_studio.cli import app

    done = CliRunner().invoke(app, ["reprocess", "--media", media["id"], "--failed"])
    assert done.exit_code == 0 and "queued 1 media" in done.output, done.output
    steps = lib.media(media["id"])["metadata"]["processing"]["steps"]
    assert steps["moderation"]["status"] == "queued" and steps["caption"]["status"] == "ready"


def test_reprocess_endpoint_and_command(lib: Library, settings, database, make_member) -> None:  # type: ignore[no-untyped-def]
    media = lib.upload(media_files.image("PNG", (32, 32)), "again.png")
    pipe = pipeline(settings, database, models="none")
    drain(pipe, [media["id"]])
    r = lib.client.post(f"/api/media/{media['id']}/reprocess", headers=lib.headers)
    assert r.status_code == 202 and r.json()["queued"] is True
    assert r.json()["processing"]["status"] == "queued"
    again = lib.client.post(f"/api/media/{media['id']}/reprocess", headers=lib.headers)
    assert again.status_code == 202 and again.json()["queued"] is False  # one waiting is enough
    assert len([j for j in jobs_of(database, media["id"]) if j["status"] == "todo"]) == 1
    drain(pipe, [media["id"]])
    state = lib.media(media["id"])["metadata"]["processing"]
    assert (state["status"], state["reason"]) == ("ready", "reprocess")

    from typer.testing import CliRunner

    from coreviz_studio.cli import app

    done = CliRunner().invoke(app, ["reprocess", "--media", media["id"]])
    assert done.exit_code == 0 and "queued 1 media" in done.output, done.output
    assert lib.media(media["id"])["metadata"]["processing"]["status"] == "queued"
    drain(pipe, [media["id"]])
    refused = CliRunner().invoke(app, ["reprocess"])
    assert refused.exit_code == 1 and "--media" in refused.output

    whole = lib.client.post(f"/api/dataset/{lib.id}/reprocess", headers=lib.headers)
    assert whole.status_code == 202 and whole.json() == {"queued": 1, "alreadyQueued": 0}
    outsider = make_member()  # another organization: neither its media nor its collection
    assert lib.client.post(f"/api/media/{media['id']}/reprocess",
                           headers=outsider.headers).status_code == 404
    assert lib.client.post(f"/api/dataset/{lib.id}/reprocess",
                           headers=outsider.headers).status_code == 404
    folder = lib.folder("Box")
    assert lib.client.post(f"/api/media/{folder['id']}/reprocess",
                           headers=lib.headers).status_code == 422


def test_captions_come_from_a_configured_vision_endpoint(lib: Library, settings, database) -> None:  # type: ignore[no-untyped-def]
    from tests.fake_vision import fake_vision

    media = lib.upload(media_files.image("JPEG", (120, 90)), "vlm.jpg")
    with fake_vision(answer="A red square on nothing at all.") as fake:
        drain(pipeline(settings, database, models="none", vision_api_base=fake.url,
                       vision_api_model="tiny-vlm"), [media["id"]])
    [caption] = lib.media(media["id"])["frames"][0]["captions"]
    assert (caption["text"], caption["model"]) == ("A red square on nothing at all.", "tiny-vlm")
    url = fake.seen[0]["messages"][0]["content"][1]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")

    # When the endpoint fails, the caption is composed instead, and the state says why.
    again = lib.upload(media_files.image("JPEG", (120, 90)), "vlm2.jpg")
    with fake_vision(status=500) as fake:
        drain(pipeline(settings, database, models="none", vision_api_base=fake.url),
              [again["id"]])
    item = lib.media(again["id"])
    assert item["frames"][0]["captions"][0]["model"] == "composed"
    assert item["metadata"]["processing"]["status"] == "ready"
    assert "captioning endpoint failed" in item["metadata"]["processing"]["notes"][0]
