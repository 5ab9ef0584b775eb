"""The whole pipeline with the real offline models (and the real COCO detector from
../shared/models when it is there): what a client sees after processing."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from coreviz_studio.db.tables import DetectedObject, Embedding
from tests import media_files
from tests.jobs import drain, pipeline
from tests.library import Library
from tests.shared_models import DETECTOR


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    if DETECTOR.exists():
        (root / "objects").mkdir()
        shutil.copy(DETECTOR, root / "objects" / DETECTOR.name)
    return root


@pytest.fixture(scope="module")
def processed(shared_client, make_member_module, settings, database, models_dir):  # type: ignore[no-untyped-def]
    lib = Library(shared_client, make_member_module())
    ids = {
        "astronaut": lib.upload(media_files.photo("astronaut"), "astronaut.jpg")["id"],
        "cat": lib.upload(media_files.photo("chelsea"), "cat.jpg")["id"],
        "print": lib.upload(media_files.printed_text(["INVOICE 2024", "Total due 58"]),
                            "scan.png")["id"],
    }
    pipe = pipeline(settings, database, models_dir=models_dir)
    drain(pipe, list(ids.values()))
    return lib, {name: lib.media(media_id) for name, media_id in ids.items()}


def test_every_item_is_ready_with_a_composed_caption(processed) -> None:  # type: ignore[no-untyped-def]
    _, media = processed
    for item in media.values():
        assert item["metadata"]["processing"]["status"] == "ready", item["metadata"]
        [frame] = item["frames"]
        [caption] = frame["captions"]
        assert caption["text"] and caption["model"].startswith("composed(")
        assert "efficientnet-lite0" in caption["model"]
        assert item["metadata"]["moderation"]["status"] == "approved"
        assert item["metadata"]["moderation"]["categories"] == []


def test_faces_are_found_inside_the_frame(processed) -> None:  # type: ignore[no-untyped-def]
    _, media = processed
    [frame] = media["astronaut"]["frames"]
    faces = [o for o in frame["objects"] if o["type"] == "face"]
    assert len(faces) == 1
    box = faces[0]["bbox"]
    assert box["x"] >= 0 and box["x"] + box["width"] <= frame["width"]
    assert box["y"] >= 0 and box["y"] + box["height"] <= frame["height"]
    assert box["y"] + box["height"] / 2 < frame["height"] / 2  # a face, not a spacesuit
    assert "1 face" in frame["captions"][0]["text"]
    assert [o for o in media["cat"]["frames"][0]["objects"] if o["type"] == "face"] == []


def test_printed_text_is_read(processed) -> None:  # type: ignore[no-untyped-def]
    _, media = processed
    [frame] = media["print"]["frames"]
    lines = [o["label"] for o in frame["objects"] if o["type"] == "text"]
    assert any("INVOICE" in line.upper() for line in lines), lines
    assert "INVOICE" in (frame["text"] or "").upper()
    assert "INVOICE" in frame["captions"][0]["text"].upper()


def test_labels_and_vectors_are_stored(processed, database) -> None:  # type: ignore[no-untyped-def]
    _, media = processed
    cat = media["cat"]["frames"][0]
    assert any("cat" in label["name"] or label["name"] in ("tabby", "Egyptian cat")
               for label in cat["metadata"]["labels"][:5]), cat["metadata"]["labels"]
    with database.system_sessions() as s:
        rows = s.execute(select(Embedding.kind, Embedding.model, Embedding.dim)
                         .where(Embedding.media_id == uuid.UUID(media["cat"]["id"]))).all()
        faces = s.execute(select(DetectedObject.embedding_model)
                          .where(DetectedObject.media_id == uuid.UUID(media["astronaut"]["id"]),
                                 DetectedObject.type == "face")).scalars().all()
    assert sorted(map(tuple, rows)) == [("image", "efficientnet-lite0", 1280),
                                        ("text", "all-minilm-l6-v2", 384)]
    assert faces == ["dlib-face-128"]


@pytest.mark.skipif(not DETECTOR.exists(), reason="../shared/models/nanodet-coco-416.onnx absent")
def test_the_coco_detector_boxes_a_person_with_a_crop_embedding(processed, database) -> None:  # type: ignore[no-untyped-def]
    _, media = processed
    [frame] = media["astronaut"]["frames"]
    people = [o for o in frame["objects"] if o["type"] == "object" and o["label"] == "person"]
    assert people and people[0]["model"] == "nanodet-coco-416"
    assert "person" in frame["captions"][0]["text"]
    with database.system_sessions() as s:
        models = s.scalars(select(DetectedObject.embedding_model).where(
            DetectedObject.media_id == uuid.UUID(media["astronaut"]["id"]),
            DetectedObject.type == "object")).all()
    assert "efficientnet-lite0" in models
