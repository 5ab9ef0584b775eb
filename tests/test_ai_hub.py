"""`models fetch`: a hub-kind model downloaded once into the models dir, from a local stand-in
for a hub (same URL layout), and refused when it does not load or is not the pinned file; the
object detector then found by the registry and run by the objects step."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import uuid
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select
from typer.testing import CliRunner

from coreviz_studio.ai import hub
from coreviz_studio.ai.clip import Clip
from coreviz_studio.ai.registry import build, find_detector
from coreviz_studio.cli import app
from coreviz_studio.db.tables import DetectedObject
from tests import media_files
from tests.fake_http import serving
from tests.jobs import drain, pipeline
from tests.library import Library
from tests.test_ai_clip import (
    CONTEXT,
    DIM,
    MEAN,
    SIZE,
    STD,
    image_graph,
    save,
    text_graph,
    write_tokenizer,
)

TINY = {"clip": hub.HubModel(
    repo="acme/tiny-clip", folder="clip",
    files={"onnx/vision_model.onnx": "image.onnx", "onnx/text_model.onnx": "text.onnx",
           "tokenizer.json": "tokenizer.json"},
    manifest={"name": "tiny-clip", "image_size": SIZE, "mean": MEAN, "std": STD,
              "context_length": CONTEXT, "dim": DIM},
    manifest_name="clip.json")}


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hub_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    repo = tmp_path / "hub" / "acme" / "tiny-clip" / "resolve" / "main"
    (repo / "onnx").mkdir(parents=True)
    save(image_graph(), repo / "onnx" / "vision_model.onnx")
    save(text_graph(), repo / "onnx" / "text_model.onnx")
    write_tokenizer(repo / "tokenizer.json")
    handler = functools.partial(_Quiet, directory=str(tmp_path / "hub"))
    with serving(handler) as url:
        yield url, repo


def _check(directory: Path) -> None:
    clip = Clip.find(directory)
    assert clip is not None
    clip.embed_texts(["a red car"])


def test_fetch_installs_a_loadable_model(hub_root, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, _ = hub_root
    models = tmp_path / "models"
    folder = hub.fetch("clip", models, url, check=_check, catalog=TINY)
    assert sorted(p.name for p in folder.iterdir()) == ["clip.json", "image.onnx", "text.onnx",
                                                        "tokenizer.json"]
    clip = Clip.find(models)
    assert clip is not None and clip.embed_texts(["a photo of a cat"]).shape == (1, DIM)
    assert not list(models.glob(".*"))  # no partial or old folder left


def test_a_missing_file_installs_nothing(hub_root, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, repo = hub_root
    (repo / "tokenizer.json").unlink()
    models = tmp_path / "models"
    with pytest.raises(hub.FetchError, match="answered 404"):
        hub.fetch("clip", models, url, check=_check, catalog=TINY)
    assert Clip.find(models) is None and not list(models.iterdir())


def test_a_model_that_does_not_load_is_removed_and_an_old_one_survives_a_failed_fetch(
        hub_root, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, repo = hub_root
    models = tmp_path / "models"
    hub.fetch("clip", models, url, check=_check, catalog=TINY)
    (repo / "tokenizer.json").unlink()
    with pytest.raises(hub.FetchError):
        hub.fetch("clip", models, url, check=_check, catalog=TINY)
    assert Clip.find(models) is not None  # the installed one is untouched
    write_tokenizer(repo / "tokenizer.json")
    (repo / "onnx" / "text_model.onnx").write_bytes(b"not a model")
    with pytest.raises(hub.FetchError, match="does not load"):
        hub.fetch("clip", models, url, check=_check, catalog=TINY)
    assert Clip.find(models) is not None and not list(models.glob(".*"))


def test_unknown_model_name(tmp_path: Path) -> None:
    with pytest.raises(hub.FetchError, match="unknown model"):
        hub.fetch("dalle", tmp_path, "http://127.0.0.1:9")


# -- the object detector -------------------------------------------------------------------

DETECTOR = hub.CATALOG["detector"]
[DETECTOR_FILE] = DETECTOR.files  # its path in the repo, and its name once installed


def detector_graph() -> Any:
    """A stand-in with the signature of the OpenCV zoo's NanoDet: input `data` [1, 3, 416, 416];
    per stride 8, 16, 32 sigmoid scores [1, cells, 80] and box-side distributions [1, cells, 32]
    (8 bins a side); its weights also listed as graph inputs, as the zoo's export does. It sees
    one person, a box of 3 strides each side around the centre cell of stride 32."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    weights = [numpy_helper.from_array(np.zeros((1, 1, 1), np.float32), "zero"),
               numpy_helper.from_array(np.array([1, 1, 1], np.int64), "shape")]
    # The outputs go through the input (times zero), so the graph has a real data path.
    nodes = [helper.make_node("ReduceMean", ["data"], ["mean4"], keepdims=1),
             helper.make_node("Reshape", ["mean4", "shape"], ["mean"]),
             helper.make_node("Mul", ["mean", "zero"], ["nothing"])]
    outputs = []
    for stride in (8, 16, 32):
        grid = 416 // stride
        logits = np.full((1, grid * grid, 80), -6.0, np.float32)
        distances = np.zeros((1, grid * grid, 32), np.float32)
        if stride == 32:
            centre = (grid // 2) * grid + grid // 2
            logits[0, centre, 0] = 4.0  # person, 0.98
            distances[0, centre].reshape(4, 8)[:, 3] = 20.0  # bin 3 on every side
        weights += [numpy_helper.from_array(logits, f"cls_{stride}"),
                    numpy_helper.from_array(distances, f"reg_{stride}")]
        nodes += [helper.make_node("Add", [f"cls_{stride}", "nothing"], [f"logits_{stride}"]),
                  helper.make_node("Sigmoid", [f"logits_{stride}"], [f"cls_pred_{stride}"]),
                  helper.make_node("Add", [f"reg_{stride}", "nothing"], [f"dis_pred_{stride}"])]
        outputs += [
            helper.make_tensor_value_info(f"cls_pred_{stride}", TensorProto.FLOAT,
                                          [1, grid * grid, 80]),
            helper.make_tensor_value_info(f"dis_pred_{stride}", TensorProto.FLOAT,
                                          [1, grid * grid, 32])]
    inputs = [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 416, 416])]
    inputs += [helper.make_tensor_value_info(w.name, w.data_type, list(w.dims)) for w in weights]
    graph = helper.make_graph(nodes, "stand-in-nanodet", inputs, outputs, initializer=weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


@pytest.fixture
def detector_hub(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The stand-in hub serving a stand-in detector where the catalog's detector lives."""
    onnx = pytest.importorskip("onnx")
    repo = tmp_path / "hub" / DETECTOR.repo / "resolve" / DETECTOR.revision
    repo.mkdir(parents=True)
    onnx.save(detector_graph(), str(repo / DETECTOR_FILE))
    handler = functools.partial(_Quiet, directory=str(tmp_path / "hub"))
    with serving(handler) as url:
        yield url, repo / DETECTOR_FILE


def _pinned_to(served: Path) -> dict[str, hub.HubModel]:
    """The catalog with the detector pinned to the stand-in's digest instead of the real one."""
    digest = hashlib.sha256(served.read_bytes()).hexdigest()
    return {**hub.CATALOG, "detector": dataclasses.replace(
        DETECTOR, sha256={DETECTOR_FILE: digest})}


def test_the_fetched_detector_is_where_the_registry_finds_it(  # type: ignore[no-untyped-def]
        detector_hub, tmp_path: Path, settings) -> None:
    url, served = detector_hub
    models = tmp_path / "models"
    seen: list[tuple[str, int, int | None]] = []
    hub.fetch("detector", models, url, check=hub.CHECKS["detector"], catalog=_pinned_to(served),
              progress=lambda *step: seen.append(step))
    assert find_detector(models) == models / "objects" / DETECTOR_FILE
    assert seen[-1] == (DETECTOR_FILE, served.stat().st_size, served.stat().st_size)
    assert not list(models.glob(".*"))
    built = build(settings.model_copy(update={"models_dir": models, "models": "objects"}))
    assert built.detector is not None and built.names() == ["object_detection_nanodet_2022nov"]
    [person] = built.detector.detect(Image.new("RGB", (832, 416)))
    assert person.label == "person" and (person.box.x, person.box.width) == (224, 384)


def test_a_wrong_checksum_installs_nothing_and_keeps_what_was_there(  # type: ignore[no-untyped-def]
        detector_hub, tmp_path: Path) -> None:
    url, served = detector_hub
    models = tmp_path / "models"
    # The real pin: the stand-in is not the OpenCV zoo's file, so it must be refused.
    with pytest.raises(hub.FetchError, match="not the pinned file: its sha256 is"):
        hub.fetch("detector", models, url, check=hub.CHECKS["detector"])
    assert find_detector(models) is None and not list(models.iterdir())
    hub.fetch("detector", models, url, check=hub.CHECKS["detector"], catalog=_pinned_to(served))
    before = (models / "objects" / DETECTOR_FILE).read_bytes()
    served.write_bytes(served.read_bytes() + b"tampered")
    stale = {**hub.CATALOG, "detector": dataclasses.replace(
        DETECTOR, sha256={DETECTOR_FILE: "0" * 64})}  # neither the installed nor the served one
    with pytest.raises(hub.FetchError, match="sha256"):
        hub.fetch("detector", models, url, check=hub.CHECKS["detector"], catalog=stale)
    assert (models / "objects" / DETECTOR_FILE).read_bytes() == before
    assert not list(models.glob(".*"))


def test_a_file_that_is_no_detector_is_refused(detector_hub, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, served = detector_hub
    save(text_graph(), served)  # an ONNX graph, the pinned digest, but not a detector
    models = tmp_path / "models"
    with pytest.raises(hub.FetchError, match=r"does not load.*NanoDet"):
        hub.fetch("detector", models, url, check=hub.CHECKS["detector"],
                  catalog=_pinned_to(served))
    assert find_detector(models) is None and not list(models.iterdir())


def test_a_rerun_fetches_nothing_once_the_pinned_file_is_in_place(  # type: ignore[no-untyped-def]
        detector_hub, tmp_path: Path) -> None:
    url, served = detector_hub
    models = tmp_path / "models"
    catalog = _pinned_to(served)
    hub.fetch("detector", models, url, check=hub.CHECKS["detector"], catalog=catalog)
    assert hub.installed("detector", models, catalog=catalog)
    # Nothing listens there: a second fetch that reached for the hub would fail.
    again = hub.fetch("detector", models, "http://127.0.0.1:9", catalog=catalog)
    assert again == models / "objects" and find_detector(models) is not None
    (models / "objects" / DETECTOR_FILE).write_bytes(b"damaged")
    assert not hub.installed("detector", models, catalog=catalog)
    hub.fetch("detector", models, url, check=hub.CHECKS["detector"], catalog=catalog)
    assert hub.installed("detector", models, catalog=catalog)


def test_the_command_fetches_reports_and_then_finds_it_installed(  # type: ignore[no-untyped-def]
        detector_hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url, served = detector_hub
    monkeypatch.setitem(hub.CATALOG, "detector", _pinned_to(served)["detector"])
    data = tmp_path / "data"
    runner = CliRunner()
    done = runner.invoke(app, ["models", "fetch", "detector", "--hub-url", url,
                               "--data-dir", str(data)])
    assert done.exit_code == 0, done.output
    assert f"fetching detector from {url}" in done.stderr
    size = served.stat().st_size / 1e6
    assert f"{DETECTOR_FILE}: {size:.1f} of {size:.1f} MB" in done.stderr
    assert f"detector installed in {data / 'models' / 'objects'}" in done.stdout
    listed = runner.invoke(app, ["models", "list", "--data-dir", str(data)])
    assert "  object_detection_nanodet_2022nov\n" in listed.stdout
    assert "no object detector" not in listed.stdout
    again = runner.invoke(app, ["models", "fetch", "detector", "--hub-url", "http://127.0.0.1:9",
                                "--data-dir", str(data)])
    assert again.exit_code == 0 and "already installed" in again.stdout


def test_the_command_says_when_the_hub_cannot_be_reached(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = CliRunner().invoke(app, ["models", "fetch", "detector", "--hub-url",
                                    "http://127.0.0.1:9", "--data-dir", str(data)])
    assert done.exit_code == 1
    assert "error: could not connect to the hub" in done.stderr
    assert "--hub-url or COREVIZ_HUB_URL" in done.stderr
    assert find_detector(data / "models") is None
    assert not (data / "models").exists() or not list((data / "models").iterdir())


def test_the_command_refuses_a_file_that_is_not_the_pinned_one(  # type: ignore[no-untyped-def]
        detector_hub, tmp_path: Path) -> None:
    url, _ = detector_hub
    data = tmp_path / "data"
    done = CliRunner().invoke(app, ["models", "fetch", "detector", "--hub-url", url,
                                    "--data-dir", str(data)])
    assert done.exit_code == 1
    assert f"error: {url}/{DETECTOR.repo}/resolve/" in done.stderr
    assert f"expected {DETECTOR.sha256[DETECTOR_FILE]}" in done.stderr
    assert find_detector(data / "models") is None


def test_the_objects_step_runs_with_the_fetched_detector(  # type: ignore[no-untyped-def]
        detector_hub, tmp_path: Path, client, make_member, settings, database) -> None:
    url, served = detector_hub
    models = tmp_path / "models"
    hub.fetch("detector", models, url, check=hub.CHECKS["detector"], catalog=_pinned_to(served))
    lib = Library(client, make_member())
    media_id = lib.upload(media_files.photo("astronaut"), "astronaut.jpg")["id"]
    drain(pipeline(settings, database, models_dir=models, models="objects"), [media_id])
    item = lib.media(media_id)
    assert item["metadata"]["processing"]["steps"]["objects"]["status"] == "ready"
    [frame] = item["frames"]
    [person] = [o for o in frame["objects"] if o["type"] == "object"]
    assert (person["label"], person["model"]) == ("person", "object_detection_nanodet_2022nov")
    with database.system_sessions() as s:
        rows = s.scalars(select(DetectedObject).where(
            DetectedObject.media_id == uuid.UUID(media_id), DetectedObject.type == "object")).all()
    assert [(r.label, r.model) for r in rows] == [("person", "object_detection_nanodet_2022nov")]
