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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from coreviz_studio.ai.base import Lazy, rgb
from coreviz_studio.ai.types import Box, Found

NAME = "dlib-face-128"
DETECTOR = "dlib-hog"
# Unit-vector L2 distance equivalent to dlib's 0.6 on raw descriptors (0.6 / ~1.38).
SAME_PERSON_DISTANCE = 0.43

_SHAPE_PREDICTOR = "shape_predictor_5_face_landmarks.dat"
_RECOGNIZER = "dlib_face_recognition_resnet_model_v1.dat"
# The searched copy's size: 640 x 480. Faces from about 80 px in that copy are found, i.e.
# from about 256 px in a 2048 px frame, 128 px in a 1024 px one and 75 px in a 512 px one
# (searching 2048 x 1536 frames whole cost 4 times as much for the rare smaller face).
SEARCH_PIXELS = 640 * 480


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
        search_pixels: int = SEARCH_PIXELS,
    ) -> None:
        self.models_dir = models_dir
        self.min_score = min_score
        # Faces are searched on a copy of the frame scaled to about `search_pixels` (HOG's
        # cost grows with the pixels: 2048 x 1536 took 400 ms, 1024 x 768 about 100 ms);
        # landmarks and descriptors still use the full frame. Images whose long side is under
        # `upsample_below` may be enlarged (at most 2x) to that size: HOG's window is 80 px,
        # so enlarging finds faces down to ~40 px in a small picture.
        self.upsample_below = upsample_below
        self.max_side = max_side  # the searched copy's long side, at most
        self.search_pixels = search_pixels
        # dlib objects are not documented as thread-safe: one lock covers running them.
        self._lock = threading.Lock()
        self._loaded: Lazy[_Loaded] = Lazy(self._open)

    def load(self) -> None:
        """Load the models now (they are otherwise loaded on the first `detect`)."""
        self._loaded.get()

    def _open(self) -> _Loaded:
        import dlib  # imported here: loading the AI stack is optional and slow

        directory = self.models_dir or default_models_dir()
        paths = [directory / _SHAPE_PREDICTOR, directory / _RECOGNIZER]
        for path in paths:
            if not path.is_file():
                raise FileNotFoundError(f"dlib face model not found: {path}")
        return _Loaded(
            detector=dlib.get_frontal_face_detector(),
            shape_predictor=dlib.shape_predictor(str(paths[0])),
            recognizer=dlib.face_recognition_model_v1(str(paths[1])),
        )

    def search_scale(self, width: int, height: int) -> float:
        """How much the frame is scaled for the search (below 1: shrunk)."""
        fill = math.sqrt(self.search_pixels / (width * height))
        cap = self.max_side / max(width, height)
        if max(width, height) < self.upsample_below:
            return min(2.0, fill, cap)
        return min(1.0, fill, cap)

    def detect_batch(self, images: Sequence[Image.Image]) -> list[list[Found]]:
        """Per image, as `detect` (dlib runs one image at a time, on one core)."""
        return [self.detect(image) for image in images]

    def detect(self, image: Image.Image) -> list[Found]:
        """Faces in `image`, best first, with boxes in its pixels and unit-length embeddings."""
        import dlib

        width, height = image.size
        if width == 0 or height == 0:
            return []
        picture = rgb(image)
        pixels = np.ascontiguousarray(np.asarray(picture))
        scale = self.search_scale(width, height)
        search = pixels
        if scale != 1.0:
            small = picture.resize(
                (max(1, round(width * scale)), max(1, round(height * scale))),
                Image.Resampling.BILINEAR,
                reducing_gap=None if scale > 1.0 else 2.0,
            )
            search = np.ascontiguousarray(np.asarray(small))

        models = self._loaded.get()
        found = []
        with self._lock:
            rects, scores, _ = models.detector.run(search, 0, 0.0)
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
