"""COCO boxes with the real NanoDet weights from the shared test models folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("onnxruntime")
skdata = pytest.importorskip("skimage.data")

from coreviz_studio.ai.detector import COCO_LABELS, ObjectDetector  # noqa: E402
from coreviz_studio.ai.types import Box, Found  # noqa: E402
from tests.shared_models import DETECTOR as MODEL  # noqa: E402


@pytest.fixture(scope="module")
def detector() -> ObjectDetector:
    if not MODEL.is_file():
        pytest.skip(f"NanoDet test weights not found at {MODEL} (see shared/models/README.md)")
    model = ObjectDetector(MODEL, threads=2)
    model.load()
    return model


def contains(box: Box, x: float, y: float) -> bool:
    return box.x <= x <= box.x + box.width and box.y <= y <= box.y + box.height


def assert_well_formed(found: list[Found], image: Image.Image) -> None:
    assert [f.confidence for f in found] == sorted((f.confidence for f in found), reverse=True)
    for f in found:
        assert (f.type, f.model) == ("object", "nanodet-coco-416")
        assert f.label in COCO_LABELS
        assert 0.35 < f.confidence <= 1.0
        b = f.box
        assert b.x >= 0 and b.y >= 0 and b.width > 0 and b.height > 0
        assert b.x + b.width <= image.width and b.y + b.height <= image.height


def test_a_person_covers_the_astronaut_photo(detector: ObjectDetector) -> None:
    image = Image.fromarray(skdata.astronaut())
    found = detector.detect(image)
    assert_well_formed(found, image)
    people = [f for f in found if f.label == "person"]
    assert people
    assert contains(people[0].box, image.width / 2, image.height / 2)
    assert people[0].box.height > image.height / 2


def test_finds_the_motorcycle(detector: ObjectDetector) -> None:
    image = Image.fromarray(skdata.stereo_motorcycle()[0])
    found = detector.detect(image)
    assert_well_formed(found, image)
    bikes = [f for f in found if f.label == "motorcycle"]
    assert bikes and bikes[0].confidence > 0.5
    box = bikes[0].box
    assert contains(box, image.width / 2, image.height / 2)
    # The bike spans about x 95-690, y 75-450 of the 741x500 photo.
    assert abs(box.x - 95) < 40 and abs(box.x + box.width - 690) < 40
    assert abs(box.y - 75) < 40 and abs(box.y + box.height - 450) < 40


def test_boxes_scale_with_the_image(detector: ObjectDetector) -> None:
    image = Image.fromarray(skdata.astronaut())
    small = next(f for f in detector.detect(image) if f.label == "person").box
    large = next(f for f in detector.detect(image.resize((1024, 768))) if f.label == "person").box
    assert abs(large.x - 2 * small.x) < 8 and abs(large.width - 2 * small.width) < 8
    assert abs(large.y - 1.5 * small.y) < 8 and abs(large.height - 1.5 * small.height) < 8


def test_nothing_on_a_blank_image(detector: ObjectDetector) -> None:
    assert detector.detect(Image.new("RGB", (640, 480), "white")) == []
    assert detector.detect(Image.new("RGB", (0, 0))) == []


def test_refuses_a_model_of_another_shape(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    def save(
        name: str, inputs: list[tuple[str, list[int]]], outputs: list[tuple[str, list[int]]]
    ) -> Path:
        # A chain of Identity nodes is enough to have the given input and output shapes.
        nodes = [helper.make_node("Identity", [inputs[0][0]], [out]) for out, _ in outputs]
        graph = helper.make_graph(
            nodes,
            name,
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = 8
        path = tmp_path / f"{name}.onnx"
        onnx.save(model, str(path))
        return path

    classifier = save("classifier", [("x", [1, 3, 224, 224])], [("y", [1, 3, 224, 224])])
    with pytest.raises(ValueError, match="NanoDet"):
        ObjectDetector(classifier).load()
    with pytest.raises(ValueError, match="NanoDet"):
        ObjectDetector(classifier).detect(Image.new("RGB", (32, 32)))

    right_input = save("right_input", [("x", [1, 3, 416, 416])], [("y", [1, 3, 416, 416])])
    with pytest.raises(ValueError, match="outputs"):
        ObjectDetector(right_input).load()

    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a loadable ONNX model"):
        ObjectDetector(garbage).load()

    with pytest.raises(FileNotFoundError):
        ObjectDetector(tmp_path / "missing.onnx").load()


def test_model_name_is_the_file_stem() -> None:
    assert ObjectDetector(Path("/models/nanodet-coco-416.onnx")).name == "nanodet-coco-416"
