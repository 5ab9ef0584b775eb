"""EfficientNet-Lite0 on onnxruntime: real weights, real photos, and the torch-free loader."""

from __future__ import annotations

import collections
import io
import os
import pickle
import sys
import types
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps
from skimage import data

from coreviz_studio.ai import efficientnet
from coreviz_studio.ai.efficientnet import DIM, MODEL_NAME, ImageFeatures, UnsafePickleError


@pytest.fixture(scope="module")
def model() -> ImageFeatures:
    return ImageFeatures(threads=1)  # one thread: the test machine is shared


@pytest.fixture(scope="module")
def cat() -> Image.Image:
    return Image.fromarray(data.chelsea())


@pytest.fixture(scope="module")
def coffee() -> Image.Image:
    return Image.fromarray(data.coffee())


def test_labels_are_imagenet_order() -> None:
    labels = efficientnet._labels()
    assert len(labels) == 1000
    assert (labels[0], labels[281], labels[665], labels[967]) == (
        "tench",
        "tabby",
        "moped",
        "espresso",
    )


def test_cat_is_labelled_a_cat(model: ImageFeatures, cat: Image.Image) -> None:
    cats = set(efficientnet._labels()[281:286])  # tabby, tiger, Persian, Siamese, Egyptian
    [(vector, labels)] = model.analyze([cat])
    assert len(labels) == 5
    assert cats & {label.name for label in labels}
    scores = [label.score for label in labels]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0001
    assert vector.shape == (DIM,) and vector.dtype == np.float32


def test_coffee_is_espresso(model: ImageFeatures, coffee: Image.Image) -> None:
    [(_, labels)] = model.analyze([coffee], top=1)
    assert len(labels) == 1 and labels[0].name in {"espresso", "cup"}


def test_similar_images_embed_close(
    model: ImageFeatures, cat: Image.Image, coffee: Image.Image
) -> None:
    v = model.embed([cat, ImageOps.mirror(cat), coffee])
    assert v.shape == (3, DIM) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    assert float(v[0] @ v[1]) > 0.9
    assert float(v[0] @ v[2]) < 0.5
    assert model.name == MODEL_NAME and model.dim == DIM


def test_any_mode_and_size_and_more_than_a_batch(model: ImageFeatures, cat: Image.Image) -> None:
    grey16 = Image.fromarray(np.asarray(cat.convert("L"), dtype=np.uint16) * 257)
    images = [
        cat.convert("L"),
        cat.convert("RGBA"),
        cat.convert("P"),
        grey16,
        cat.resize((40, 300)),  # tall and small
        Image.new("RGBA", (64, 64)),  # fully transparent
    ]
    images += [cat] * (efficientnet.BATCH + 1 - len(images))  # forces a second batch
    results = model.analyze(images, top=3)
    assert len(results) == len(images)
    for vector, labels in results:
        assert vector.shape == (DIM,) and abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
        assert len(labels) == 3
    # Same picture in other clothes: still the same picture to the model.
    assert float(results[0][0] @ results[-1][0]) > 0.8  # grey vs colour
    assert float(results[1][0] @ results[-1][0]) > 0.99  # opaque RGBA vs RGB
    assert float(results[3][0] @ results[0][0]) > 0.99  # 16-bit grey vs 8-bit grey
    assert model.embed([]).shape == (0, DIM)


# --- the torch-free checkpoint reader ------------------------------------------------------


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[[str], int], tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def _legacy_file(payload: bytes) -> bytes:
    header = pickle.dumps(efficientnet._LEGACY_MAGIC, 2) + pickle.dumps(1001, 2)
    return header + pickle.dumps({"little_endian": True}, 2) + payload


def _zip_file(payload: bytes, storages: dict[str, bytes] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/byteorder", "little")
        for key, raw in (storages or {}).items():
            archive.writestr(f"archive/data/{key}", raw)
    return out.getvalue()


@pytest.mark.parametrize("wrap", [_legacy_file, _zip_file])
def test_unpickler_refuses_code(tmp_path: Path, wrap: Callable[[bytes], bytes]) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pth"
    path.write_bytes(wrap(pickle.dumps(collections.OrderedDict(x=_Evil(marker)), 2)))
    with pytest.raises(UnsafePickleError, match="system"):
        efficientnet.load_state_dict(path)
    assert not marker.exists()


def test_zip_checkpoint_with_strided_tensors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pickle through stand-in torch modules so the file names exactly what torch.save writes.
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args: object) -> None:
        raise AssertionError("only pickled here, never called")

    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    torch.FloatStorage = FloatStorage  # type: ignore[attr-defined]
    torch._utils = utils  # type: ignore[attr-defined]
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)

    base = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    storage = object()

    class Tensor:
        def __init__(self, offset: int, size: tuple[int, ...], stride: tuple[int, ...]) -> None:
            self.args: tuple[object, ...] = (storage, offset, size, stride, False, {})

        def __reduce__(self) -> tuple[object, tuple[object, ...]]:
            return _rebuild_tensor_v2, self.args

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj: object) -> object:
            return ("storage", FloatStorage, "0", "cpu", 24) if obj is storage else None

    state = collections.OrderedDict(
        whole=Tensor(0, (2, 3, 4), (12, 4, 1)),
        transposed=Tensor(0, (4, 3, 2), (1, 4, 12)),  # base.transpose(2, 1, 0)
        sliced=Tensor(13, (2, 2), (4, 2)),  # base[1, 0:2, 1::2]
    )
    buffer = io.BytesIO()
    Pickler(buffer, 2).dump(state)
    path = tmp_path / "small.pth"
    path.write_bytes(_zip_file(buffer.getvalue(), {"0": base.astype("<f4").tobytes()}))
    monkeypatch.undo()  # the reader must not need the stand-ins

    loaded = efficientnet.load_state_dict(path)
    np.testing.assert_array_equal(loaded["whole"], base)
    np.testing.assert_array_equal(loaded["transposed"], base.transpose(2, 1, 0))
    np.testing.assert_array_equal(loaded["sliced"], base[1, 0:2, 1::2])
    assert all(a.flags.c_contiguous and a.dtype == np.float32 for a in loaded.values())


def test_real_checkpoint_reads_as_numpy() -> None:
    weights = efficientnet.load_state_dict(efficientnet.weights_path())
    assert weights["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert weights["_fc.weight"].shape == (1000, DIM)
    assert weights["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    with pytest.raises(ValueError, match="not used"):
        efficientnet.build_onnx({**weights, "_extra.weight": np.zeros(1, np.float32)})


def test_the_built_graph_is_valid_onnx_and_gives_the_declared_outputs() -> None:
    import onnx

    model = onnx.load_from_string(
        efficientnet.build_onnx(efficientnet.load_state_dict(efficientnet.weights_path())))
    onnx.checker.check_model(model, full_check=True)
    # Shape inference from the nodes alone (declared output shapes cleared) arrives at what
    # build_onnx declares.
    for output in model.graph.output:
        output.type.tensor_type.ClearField("shape")
    inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    assert {o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]
            for o in inferred.graph.output} == {"logits": ["N", 1000], "features": ["N", DIM]}
