"""ai/base.py and the registry: one session helper, lazy loading, models by name, and the
batch calls every capability has (same results as one image at a time)."""

from __future__ import annotations

import gc
import io
import logging
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from coreviz_studio.ai import base
from coreviz_studio.ai.registry import KNOWN, build
from coreviz_studio.config import Settings
from tests.shared_models import DETECTOR

skdata = pytest.importorskip("skimage.data")


def tiny_model() -> bytes:
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    return bytes(model.SerializeToString())


def photo(name: str) -> Image.Image:
    return Image.fromarray(getattr(skdata, name)()).convert("RGB")


# -- the session helper ---------------------------------------------------------------------


@pytest.mark.parametrize("threads", [1, 3])
def test_session_helper_applies_the_thread_setting(threads: int) -> None:
    session = base.open_session(tiny_model(), threads)
    options = session.get_session_options()
    assert options.intra_op_num_threads == threads
    assert options.inter_op_num_threads == 1
    assert session.get_providers() == ["CPUExecutionProvider"]
    (out,) = session.run(None, {"x": np.array([[-1.0, 2.0]], np.float32)})
    assert out.tolist() == [[0.0, 2.0]]


def test_the_registry_passes_model_threads_to_the_sessions(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="postgresql://unused",
                        models="labels", model_threads=2)
    models = build(settings)
    assert models.features is not None and models.names() == ["efficientnet-lite0"]
    session = models.features._session.get()
    assert session.get_session_options().intra_op_num_threads == 2


def live_sessions() -> list[object]:
    import onnxruntime as ort

    gc.collect()
    return [o for o in gc.get_objects() if isinstance(o, ort.InferenceSession)]


def test_every_session_the_models_open_has_the_helpers_thread_settings(tmp_path: Path) -> None:
    """All onnxruntime sessions that come to exist while the real models load, RapidOCR's
    three included, carry what `base.session_options` sets: the COREVIZ_MODEL_THREADS count
    (here one above the cores, a count RapidOCR on its own ignores), one inter-op thread,
    all graph optimisations, the CPU provider."""
    import onnxruntime as ort

    nanodet = DETECTOR
    names = "labels,text,moderation,text-embedding"
    if nanodet.is_file():
        (tmp_path / "models" / "objects").mkdir(parents=True)
        (tmp_path / "models" / "objects" / nanodet.name).symlink_to(nanodet)
        names += ",objects"
    threads = (os.cpu_count() or 1) + 1
    models = build(Settings(data_dir=tmp_path, database_url="postgresql://unused",
                            models=names, model_threads=threads))
    before = live_sessions()  # held, so no id below is reused by a new session
    assert models.features and models.reader and models.moderator and models.text
    models.features.load()
    models.reader.load()
    models.moderator.load()
    models.text.embed(["load the session"])
    if models.detector is not None:
        models.detector.load()

    known = {id(s) for s in before}
    opened = [s for s in live_sessions() if id(s) not in known]
    # EfficientNet, RapidOCR's detection, direction and recognition, open-NSFW, MiniLM
    # (and NanoDet when its file is there).
    assert len(opened) == 6 + (models.detector is not None)
    helper = base.session_options(threads)
    for session in opened:
        options = session.get_session_options()  # type: ignore[attr-defined]
        assert options.intra_op_num_threads == helper.intra_op_num_threads == threads
        assert options.inter_op_num_threads == helper.inter_op_num_threads == 1
        assert options.graph_optimization_level == helper.graph_optimization_level \
            == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        assert session.get_providers() == list(base.PROVIDERS)  # type: ignore[attr-defined]


def test_session_helper_names_what_cannot_be_loaded(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="detector model not found"):
        base.open_session(tmp_path / "absent.onnx", what="detector model")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(ValueError, match=r"broken\.onnx is not a loadable ONNX model"):
        base.open_session(broken)


# -- lazy loading ---------------------------------------------------------------------------


def test_lazy_makes_once_for_concurrent_first_calls() -> None:
    calls: list[int] = []
    arrived = threading.Barrier(6)

    def make() -> object:
        calls.append(1)
        return object()

    lazy: base.Lazy[object] = base.Lazy(make)
    assert not lazy.loaded
    got: list[object] = []

    def work() -> None:
        arrived.wait()
        got.append(lazy.get())

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and lazy.loaded
    assert len(got) == 6 and all(g is got[0] for g in got)


def test_lazy_tries_again_after_a_failed_load() -> None:
    attempts: list[int] = []

    def make() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise FileNotFoundError("not yet")
        return "loaded"

    lazy = base.Lazy(make)
    with pytest.raises(FileNotFoundError):
        lazy.get()
    assert lazy.get() == "loaded" and len(attempts) == 2


# -- the registry ---------------------------------------------------------------------------


def test_registry_builds_by_name(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="postgresql://unused",
                        models="faces,text,moderation")
    models = build(settings)
    assert models.names() == ["dlib-face-128", "rapidocr-ppocrv4", "open-nsfw"]
    assert models.detector is None and models.features is None and models.text is None
    assert build(Settings(data_dir=tmp_path, database_url="postgresql://unused",
                          models="none")).names() == []


def test_registry_rejects_unknown_names(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="postgresql://unused",
                        models="faces,sharks")
    with pytest.raises(ValueError, match=r"unknown model names in COREVIZ_MODELS: sharks "
                                         r"\(known: clip, faces, labels"):
        build(settings)
    assert {"faces", "text", "moderation", "labels", "objects", "clip",
            "text-embedding"} == KNOWN


def test_a_missing_package_disables_its_model_with_a_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    made: list[str] = []

    def factory(name: str) -> object:
        made.append(name)
        return name

    registry = base.Registry({
        "there": base.Entry("faces", lambda s: factory("there"), "json"),
        "gone": base.Entry("reader", lambda s: factory("gone"), "no_such_package_cvs"),
    })
    caplog.set_level(logging.WARNING)
    built = registry.build(frozenset({"there", "gone"}),
                           Settings(data_dir=tmp_path, database_url="postgresql://unused"))
    assert built == {"faces": "there"} and made == ["there"]
    assert "model 'gone' is disabled: package no_such_package_cvs is not installed" in \
        caplog.text


def test_models_satisfy_their_capability_protocols() -> None:
    from coreviz_studio.ai.efficientnet import ImageFeatures
    from coreviz_studio.ai.faces import Faces
    from coreviz_studio.ai.moderation import Moderator
    from coreviz_studio.ai.ocr import TextReader
    from coreviz_studio.ai.text_embedding import TextEmbedder
    from coreviz_studio.ai.vision_api import VisionApi

    assert isinstance(Faces(), base.FaceDetection)
    assert isinstance(TextReader(), base.TextReading)
    assert isinstance(Moderator(), base.ContentModeration)
    assert isinstance(ImageFeatures(), base.ImageLabelling)
    assert isinstance(TextEmbedder(), base.TextEmbedding)
    assert isinstance(VisionApi("http://127.0.0.1:9", "m", None), base.Captioning)
    assert not isinstance(Moderator(), base.TextReading)


# -- batch calls give what one image at a time gives ----------------------------------------


def test_moderation_batch_equals_one_at_a_time() -> None:
    from coreviz_studio.ai.moderation import Moderator

    moderator = Moderator(threads=1)
    images = [photo("coffee"), photo("chelsea"), Image.new("L", (64, 640), 90)]
    batch = moderator.classify_batch(images)
    single = [moderator.classify(image) for image in images]
    assert [m.flagged for m in batch] == [m.flagged for m in single]
    for a, b in zip(batch, single, strict=True):
        assert a.scores["nsfw"] == pytest.approx(b.scores["nsfw"], abs=1e-5)
    assert moderator.classify_batch([]) == []


def test_faces_and_text_batches_equal_one_at_a_time() -> None:
    from coreviz_studio.ai.faces import Faces
    from coreviz_studio.ai.ocr import TextReader
    from tests.media_files import printed_text

    faces = Faces()
    images = [photo("astronaut"), photo("chelsea")]
    batch = faces.detect_batch(images)
    assert [len(f) for f in batch] == [1, 0]
    single = [faces.detect(image) for image in images]
    assert [[f.box for f in found] for found in batch] == [[f.box for f in found]
                                                          for found in single]
    assert batch[0][0].embedding is not None and single[0][0].embedding is not None
    np.testing.assert_allclose(batch[0][0].embedding, single[0][0].embedding, atol=1e-6)

    reader = TextReader(threads=1)
    page = Image.open(io.BytesIO(printed_text(["INVOICE 2024"]))).convert("RGB")
    read = reader.read_batch([page, photo("rocket")])
    assert [[f.label for f in r] for r in read] == [[f.label for f in reader.read(im)]
                                                     for im in (page, photo("rocket"))]
    assert any("INVOICE" in f.label.upper() for f in read[0]) and read[1] == []


def test_labels_batch_equals_one_at_a_time() -> None:
    from coreviz_studio.ai.efficientnet import ImageFeatures

    features = ImageFeatures(threads=1)
    images = [photo("chelsea"), photo("coffee"), photo("rocket")]
    batch = features.analyze(images, top=3)
    for (vector, labels), image in zip(batch, images, strict=True):
        ((alone, alone_labels),) = features.analyze([image], top=3)
        np.testing.assert_allclose(vector, alone, atol=1e-5)
        assert [label.name for label in labels] == [label.name for label in alone_labels]
    assert len({labels[0].name for _, labels in batch}) == 3  # three different photos
