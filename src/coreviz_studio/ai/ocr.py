"""Lines of text with RapidOCR (PP-OCRv4 detection and recognition models on onnxruntime).

The three ONNX models (text detection, 180-degree direction, recognition) ship inside the
`rapidocr-onnxruntime` wheel, so nothing is downloaded. PP-OCRv4's recognizer reads Chinese
and English (Latin letters, digits, punctuation).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from coreviz_studio.ai.base import Lazy, open_session, rgb, session_options
from coreviz_studio.ai.types import Box, Found

NAME = "rapidocr-ppocrv4"
# Lines this short are mostly texture read as letters unless the reader is sure.
_SHORT = 3
_SHORT_MIN_CONFIDENCE = 0.85
# The long side of the copy that text detection looks at first (see TextReader.gate_side):
# print 8 px high there is found, i.e. 16 px in a 960 px picture.
GATE_SIDE = 480
_GATE_BOX_THRESHOLD = 0.3  # the full pass keeps regions scored 0.5 or more
# Held while RapidOCR is built with base's sessions (see TextReader._open).
_BUILDING = threading.Lock()


class TextReader:
    """OCR of printed text; the RapidOCR engine loads on first use, once per instance."""

    name = NAME

    def __init__(
        self,
        *,
        threads: int | None = None,
        min_confidence: float = 0.5,
        max_side: int = 1280,
        gate_side: int | None = GATE_SIDE,
    ) -> None:
        self.threads = threads
        self.min_confidence = min_confidence
        # Images are read at this long side at most. RapidOCR's default ("min" mode, 736)
        # enlarges every image to 736 px on its short side: 800x300 became 1963x736 and took
        # 1.3-1.9 s on 2 cores instead of about 0.5 s.
        self.max_side = max_side
        # Text detection runs first on a copy this long (None: never); when it finds no text
        # there the picture is done. Detection's cost grows with the pixels (a 960 px photo:
        # 400-600 ms, at 480 px about 70 ms), and most photos hold no text at all.
        self.gate_side = gate_side
        # The engine keeps per-call state (its resize step) on itself: one call at a time.
        self._lock = threading.Lock()
        self._engine: Lazy[Any] = Lazy(self._open)  # rapidocr_onnxruntime.RapidOCR (untyped)

    def load(self) -> None:
        """Load the models now (they are otherwise loaded on the first `read`)."""
        self._engine.get()

    def _open(self) -> Any:
        from rapidocr_onnxruntime import RapidOCR  # optional and slow to import
        from rapidocr_onnxruntime.utils import infer_engine

        options: dict[str, Any] = {
            "text_score": self.min_confidence,
            "print_verbose": False,
            "max_side_len": self.max_side,
            # "max": never enlarge; big images are already capped by max_side_len.
            "det_limit_type": "max",
        }
        # RapidOCR 1.4.4 opens its three sessions itself (infer_engine.OrtInferSession calls
        # InferenceSession with options of its own, and ignores a thread count above the
        # cores). While it is built, that name is base's helper instead, so its sessions get
        # the threads, provider and optimisations every other model gets, from one place.
        # The lock keeps two readers built at once from restoring each other's stand-in.
        with _BUILDING:
            own = infer_engine.InferenceSession
            infer_engine.InferenceSession = self._session
            try:
                return RapidOCR(**options)
            finally:
                infer_engine.InferenceSession = own

    def _session(self, model_path: str, **_rapidocr_options: Any) -> Any:
        """One of RapidOCR's sessions (detection, direction, recognition), opened by base."""
        # No memory arena, as RapidOCR has it: every picture and line has its own size, and
        # the arena would keep the largest one's memory for good.
        options = session_options(self.threads, arena=False)
        return open_session(Path(model_path), options=options, what="RapidOCR model")

    def read_batch(self, images: Sequence[Image.Image]) -> list[list[Found]]:
        """Per image, as `read` (the engine reads one image at a time)."""
        return [self.read(image) for image in images]

    def read(self, image: Image.Image) -> list[Found]:
        """Each line of text read, top to bottom, with the rectangle around it."""
        width, height = image.size
        if width == 0 or height == 0:
            return []
        rgb = _flatten(image)
        engine = self._engine.get()
        with self._lock:
            if not self._may_hold_text(engine, rgb):
                return []
            result, _ = engine(np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1]))
        found = []
        for quad, text, score in result or []:
            label = str(text).strip()
            if not label or float(score) < self.min_confidence:
                continue
            if len(label) < _SHORT and float(score) < _SHORT_MIN_CONFIDENCE:
                continue  # a lone "O" in a coffee cup's rim: texture, not text
            points = np.asarray(quad, dtype=np.float64)
            x0, y0 = points.min(axis=0)
            x1, y1 = points.max(axis=0)
            box = Box(float(x0), float(y0), float(x1 - x0), float(y1 - y0)).clamped(width, height)
            if box.width <= 0 or box.height <= 0:
                continue
            found.append(
                Found(type="text", label=label, confidence=float(score), box=box, model=NAME)
            )
        return found

    def _may_hold_text(self, engine: Any, rgb: Image.Image) -> bool:
        """False when detection on a small copy finds no text region (so neither the angle
        classifier nor the recognizer runs). Pictures no bigger than the copy go straight to
        the full pass, whose detection is the same."""
        side = self.gate_side
        if side is None or max(rgb.size) <= side:
            return True
        detect = engine.text_det
        post = detect.postprocess_op
        kept = post.box_thresh
        # More willing than the full pass: a doubtful region costs one more pass, a missed
        # one costs the text.
        post.box_thresh = _GATE_BOX_THRESHOLD
        try:
            boxes, _ = detect(_gate_copy(rgb, side))
        finally:
            post.box_thresh = kept
        return boxes is not None and len(boxes) > 0


def _gate_copy(image: Image.Image, side: int) -> np.ndarray:
    """BGR pixels of `image` with its long side at `side`."""
    scale = side / max(image.size)
    small = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                         Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.ascontiguousarray(np.asarray(small)[:, :, ::-1])


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, with any transparency laid on white (dark text on a clear background stays dark)."""
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return rgb(image)
