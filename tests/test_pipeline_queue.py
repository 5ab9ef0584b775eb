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
    # A refused upload (415) leaves no job behind.
    with database.engine.connect() as c:
        before = c.scalar(text("SELECT count(*) FROM procrastinate_jobs"))
    assert lib.upload_raw(b"<html>no</html>", "x.jpg").status_code == 415
    with database.engine.connect() as c:
        assert c.scalar(text("SELECT count(*) FROM procrastinate_jobs")) == before


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
    for _ in range(2):
        assert process(pipe, uuid.UUID(media["id"])) == "ready"
    with database.sessions() as s:
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
    with database.sessions() as s:
        import uuid

        assert s.scalar(select(func.count()).select_from(Frame)
                        .where(Frame.media_id == uuid.UUID(media["id"]))) == 0
