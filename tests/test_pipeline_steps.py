"""Processing as steps (docs/processing.md), with the real offline models: a step that fails
(a model file removed) fails alone, the item stays usable, and the step recovers; one step can
be rerun; a changed model reruns only its step; running a step again duplicates nothing."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from coreviz_studio.ai.efficientnet import ImageFeatures
from coreviz_studio.ai.faces import Faces, default_models_dir
from coreviz_studio.ai.moderation import Moderator
from coreviz_studio.ai.registry import Models
from coreviz_studio.ai.text_embedding import TextEmbedder
from coreviz_studio.cli import app
from coreviz_studio.db.tables import Caption, DetectedObject, Embedding, Frame
from coreviz_studio.pipeline.process import Pipeline
from coreviz_studio.pipeline.reprocess import requeue_where
from tests import media_files
from tests.jobs import drain, jobs_of, pipeline
from tests.library import Library

RECOGNIZER = "dlib_face_recognition_resnet_model_v1.dat"


@pytest.fixture(scope="module")
def shared_models() -> Models:
    """The real models, loaded once for the module (faces come per test: their files move)."""
    return Models(features=ImageFeatures(threads=1), moderator=Moderator(threads=1),
                  text=TextEmbedder(threads=1))


@pytest.fixture
def faces_dir(tmp_path: Path) -> Path:
    """A copy of dlib's face model files, which a test may take away."""
    folder = tmp_path / "faces"
    shutil.copytree(default_models_dir(), folder,
                    ignore=lambda _, names: [n for n in names if not n.endswith(".dat")])
    return folder


@pytest.fixture
def lib(client, make_member) -> Library:  # type: ignore[no-untyped-def]
    return Library(client, make_member())


def _pipe(settings, database, models: Models) -> Pipeline:  # type: ignore[no-untyped-def]
    base = pipeline(settings, database, job_retry_backoff_seconds=30)

    class WithModels(Pipeline):
        def models(self) -> Models:
            return models

    return WithModels(base.db, base.store, base.settings)


def _with_faces(shared: Models, folder: Path) -> Models:
    return Models(faces=Faces(models_dir=folder), features=shared.features,
                  moderator=shared.moderator, text=shared.text)


def _rows(database, media_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """What the steps wrote, by row id and update time: to tell which were rewritten."""
    mid = uuid.UUID(media_id)
    with database.system_sessions() as s:
        frames = s.execute(select(Frame.id, Frame.metadata_, Frame.text)
                           .where(Frame.media_id == mid)).all()
        return {
            "frames": sorted((str(f.id), str(f.metadata_.get("labels")), f.text) for f in frames),
            "moderation": sorted(str(f.metadata_.get("moderation")) for f in frames),
            "faces": sorted((str(o.id), o.label) for o in s.scalars(
                select(DetectedObject).where(DetectedObject.media_id == mid,
                                             DetectedObject.type == "face"))),
            "captions": sorted((str(c.id), str(c.updated_at), c.text) for c in s.scalars(
                select(Caption).join(Frame).where(Frame.media_id == mid))),
            "embeddings": sorted((str(e.id), e.model) for e in s.scalars(
                select(Embedding).where(Embedding.media_id == mid))),
        }


def _due_now(database, media_id: str) -> None:  # type: ignore[no-untyped-def]
    """Make the media's waiting retry due now (instead of sleeping through its backoff)."""
    with database.engine.begin() as c:
        c.execute(text("UPDATE procrastinate_jobs SET scheduled_at = now() "
                       "WHERE args->>'media_id' = :m AND status = 'todo'"), {"m": media_id})


def _finished(item: dict[str, Any]) -> dict[str, str]:
    return {name: step.get("finishedAt", "") for name, step
            in item["metadata"]["processing"]["steps"].items()}


def test_a_removed_model_file_fails_only_its_step_which_recovers(  # type: ignore[no-untyped-def]
        lib: Library, settings, database, shared_models, faces_dir) -> None:
    kept = faces_dir.parent / RECOGNIZER
    (faces_dir / RECOGNIZER).rename(kept)  # the operator's mistake
    pipe = _pipe(settings, database, _with_faces(shared_models, faces_dir))
    media = lib.upload(media_files.photo("astronaut"), "astronaut.jpg")
    drain(pipe, [media["id"]])

    item = lib.media(media["id"])
    state = item["metadata"]["processing"]
    assert state["status"] == "ready" and state["failedSteps"] == ["faces"], state
    assert state["willRetry"] is True and "faces step failed" in state["note"]
    faces = state["steps"]["faces"]
    assert faces["status"] == "failed" and RECOGNIZER in faces["error"]
    assert faces["model"] == "dlib-face-128" and faces["attempt"] == 1
    for name in ("decode", "labels", "moderation", "caption", "embeddings", "search"):
        assert state["steps"][name]["status"] == "ready", name
    assert state["steps"]["objects"]["status"] == "skipped"  # no detector configured
    # Usable: the others' results are stored.
    [frame] = item["frames"]
    assert [o for o in frame["objects"] if o["type"] == "face"] == []
    assert frame["captions"][0]["text"] and "face" not in frame["captions"][0]["text"]
    assert item["metadata"]["moderation"]["status"] == "approved"
    before = _rows(database, media["id"])
    assert before["embeddings"] and "None" not in before["frames"][0][1]
    assert [j["status"] for j in jobs_of(database, media["id"])] == ["todo"]
    counts = lib.client.get(f"/api/queue?datasetId={lib.id}", headers=lib.headers).json()
    assert (counts["ready"], counts["withFailedStep"], counts["queued"]) == (1, 1, 1)

    kept.rename(faces_dir / RECOGNIZER)  # the cause is removed; the retry runs the step
    _due_now(database, media["id"])
    drain(pipe, [media["id"]])
    item = lib.media(media["id"])
    state = item["metadata"]["processing"]
    assert state["status"] == "ready" and "failedSteps" not in state and "note" not in state
    assert state["steps"]["faces"]["status"] == "ready"
    assert state["steps"]["faces"]["attempt"] == 2 and state["attempt"] == 2
    [frame] = item["frames"]
    assert len([o for o in frame["objects"] if o["type"] == "face"]) == 1
    assert "1 face" in frame["captions"][0]["text"]  # the caption is composed again
    counts = lib.client.get(f"/api/queue?datasetId={lib.id}", headers=lib.headers).json()
    assert (counts["ready"], counts["withFailedStep"]) == (1, 0)
    after = _rows(database, media["id"])
    # Not decoded again; labels and moderation untouched.
    assert after["frames"] == before["frames"] and after["moderation"] == before["moderation"]


def test_reprocess_one_step_leaves_the_rest_untouched_and_duplicates_nothing(  # type: ignore[no-untyped-def]
        lib: Library, settings, database, shared_models, faces_dir) -> None:
    pipe = _pipe(settings, database, _with_faces(shared_models, faces_dir))
    media = lib.upload(media_files.photo("astronaut"), "astronaut.jpg")
    drain(pipe, [media["id"]])
    first = lib.media(media["id"])
    before, stamps = _rows(database, media["id"]), _finished(first)
    assert len(before["faces"]) == 1 and before["captions"]

    done = CliRunner().invoke(app, ["reprocess", "--media", media["id"], "--step", "moderation"])
    assert done.exit_code == 0 and "queued 1 media" in done.output, done.output
    queued = lib.media(media["id"])["metadata"]["processing"]
    assert queued["status"] == "queued" and queued["steps"]["moderation"]["status"] == "queued"
    drain(pipe, [media["id"]])
    item = lib.media(media["id"])
    after = _rows(database, media["id"])
    assert after["frames"] == before["frames"] and after["faces"] == before["faces"]
    assert after["captions"] == before["captions"]
    assert after["embeddings"] == before["embeddings"]
    now = _finished(item)
    assert now["moderation"] != stamps["moderation"]
    assert {k: v for k, v in now.items() if k != "moderation"} == \
        {k: v for k, v in stamps.items() if k != "moderation"}
    assert item["metadata"]["processing"]["status"] == "ready"

    # The faces step twice: its rows are replaced, never added to; so are the steps that read
    # them (caption, embeddings); the frames and the labels are not touched.
    for _ in range(2):
        assert CliRunner().invoke(app, ["reprocess", "--media", media["id"], "--step",
                                        "faces"]).exit_code == 0
        drain(pipe, [media["id"]])
    again = _rows(database, media["id"])
    assert len(again["faces"]) == 1 and again["faces"] != before["faces"]
    assert len(again["captions"]) == len(before["captions"])
    assert [c[2] for c in again["captions"]] == [c[2] for c in before["captions"]]
    assert sorted(e[1] for e in again["embeddings"]) == sorted(e[1] for e in before["embeddings"])
    assert again["frames"] == before["frames"]
    rerun = _finished(lib.media(media["id"]))
    assert rerun["labels"] == stamps["labels"] and rerun["decode"] == stamps["decode"]

    refused = CliRunner().invoke(app, ["reprocess", "--media", media["id"], "--step", "nope"])
    assert refused.exit_code == 1 and "unknown step nope" in refused.output


def test_a_changed_model_version_runs_only_its_step(  # type: ignore[no-untyped-def]
        lib: Library, settings, database, shared_models) -> None:
    class NewModerator(Moderator):
        version = "2"

    models = Models(features=shared_models.features, moderator=shared_models.moderator,
                    text=shared_models.text)
    pipe = _pipe(settings, database, models)
    media = lib.upload(media_files.photo("chelsea"), "cat.jpg")
    drain(pipe, [media["id"]])
    stamps = _finished(lib.media(media["id"]))
    before = _rows(database, media["id"])

    def requeue(current: Models) -> tuple[int, int]:
        with database.system_sessions() as s:
            result = requeue_where(s, media_ids=[media["id"]], changed=current)
            s.commit()
            return result

    assert requeue(models) == (0, 0)  # nothing changed
    models.moderator = NewModerator(threads=1)
    assert requeue(models) == (1, 0)
    drain(pipe, [media["id"]])
    item = lib.media(media["id"])
    assert item["metadata"]["processing"]["steps"]["moderation"]["version"] == "2"
    now = _finished(item)
    assert [k for k in now if now[k] != stamps[k]] == ["moderation"]
    after = _rows(database, media["id"])
    assert {k: v for k, v in after.items() if k != "moderation"} == \
        {k: v for k, v in before.items() if k != "moderation"}
    assert requeue(models) == (0, 0)

    # A full reprocess asked while a step's job waits makes that job a full run.
    models.moderator = Moderator(threads=1)  # version "" again: the step is due
    assert requeue(models) == (1, 0)
    assert lib.client.post(f"/api/media/{media['id']}/reprocess",
                           headers=lib.headers).json()["queued"] is False
    drain(pipe, [media["id"]])
    assert _rows(database, media["id"])["frames"][0][0] != before["frames"][0][0]

    # The operator's command compares with the models its settings build.
    done = CliRunner().invoke(app, ["reprocess", "--changed", "--media", media["id"]])
    assert done.exit_code == 0 and done.output.startswith("queued "), done.output
    drain(pipe, [media["id"]])


def test_a_step_only_run_loads_each_frame_once_for_all_its_steps(  # type: ignore[no-untyped-def]
        lib: Library, settings, database, shared_models, faces_dir, tmp_path) -> None:
    from coreviz_studio.storage.local import LocalBlobStore

    fetched: list[str] = []

    class Counting(LocalBlobStore):
        def fetch(self, key: str, dest: Path) -> None:
            fetched.append(key)
            super().fetch(key, dest)

    base = _pipe(settings, database, _with_faces(shared_models, faces_dir))
    pipe = type(base)(base.db, Counting(settings.effective_blob_dir()), base.settings)
    clip = lib.upload(media_files.video_with_cut(tmp_path / "v.mp4", cut_at=2.0, seconds=4.0),
                      "cut.mp4")
    drain(pipe, [clip["id"]])
    assert len(fetched) == 1  # the upload itself; its frames come from the decode
    frames = lib.media(clip["id"])["frames"]
    assert len(frames) == 2
    fetched.clear()
    done = CliRunner().invoke(app, ["reprocess", "--media", clip["id"], "--step", "faces",
                                    "--step", "moderation", "--step", "embeddings"])
    assert done.exit_code == 0, done.output
    drain(pipe, [clip["id"]])
    keys = {f["blob"].rsplit("/blobs/", 1)[1] for f in frames}
    assert sorted(fetched) == sorted(keys)  # each stored frame once, for the three steps
    state = lib.media(clip["id"])["metadata"]["processing"]
    assert all(state["steps"][n]["status"] == "ready"
               for n in ("faces", "moderation", "embeddings", "caption", "search"))


def test_a_write_that_fails_is_undone_alone_among_the_steps_written_together(  # type: ignore[no-untyped-def]
        lib: Library, settings, database, shared_models, faces_dir, monkeypatch) -> None:
    """The per-frame steps' rows are written in one transaction, each step in its own
    savepoint: moderation's write fails after writing part of its rows, and only those go."""
    from coreviz_studio.pipeline.steps.finders import Moderations

    written = Moderations.write

    def fails_midway(self, session, media, frames, result):  # type: ignore[no-untyped-def]
        written(self, session, media, frames, result)
        session.flush()  # its rows are in the transaction when it fails
        raise ValueError("the moderation rows cannot be written")

    monkeypatch.setattr(Moderations, "write", fails_midway)
    pipe = _pipe(settings, database, _with_faces(shared_models, faces_dir))
    media = lib.upload(media_files.photo("astronaut"), "astronaut.jpg")
    drain(pipe, [media["id"]])

    item = lib.media(media["id"])
    state = item["metadata"]["processing"]
    assert state["status"] == "ready" and state["failedSteps"] == ["moderation"], state
    assert "cannot be written" in state["steps"]["moderation"]["error"]
    for name in ("labels", "faces", "text"):
        assert state["steps"][name]["status"] in ("ready", "skipped"), name
    assert "moderation" not in item["metadata"]  # undone with its savepoint...
    rows = _rows(database, media["id"])
    assert rows["moderation"] == ["None"]
    assert len(rows["faces"]) == 1 and "None" not in rows["frames"][0][1]  # ...the others kept

    monkeypatch.setattr(Moderations, "write", written)  # the retry writes it
    _due_now(database, media["id"])
    drain(pipe, [media["id"]])
    item = lib.media(media["id"])
    assert item["metadata"]["processing"]["steps"]["moderation"]["status"] == "ready"
    assert item["metadata"]["moderation"]["status"] == "approved"
    assert _rows(database, media["id"])["faces"] == rows["faces"]
