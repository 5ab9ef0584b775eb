"""Run the configured models over one frame: what the rest of the pipeline stores.

Each stage is timed (`timings`), so the benchmark and the logs can say where time goes.
"""

from __future__ import annotations

import io
import logging
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from coreviz_studio.ai.base import rgb
from coreviz_studio.ai.registry import Models
from coreviz_studio.ai.types import Found, Label, Moderation
from coreviz_studio.pipeline.caption import caption_model, compose
from coreviz_studio.understanding import frame_words

log = logging.getLogger(__name__)

MAX_CROPS = 16  # object crops embedded per frame (the most confident first)
MIN_CROP = 12  # pixels: smaller crops carry too little to embed
_OCR_SKIP_CHARS = 20  # a PDF page whose text layer has this much needs no OCR


@dataclass
class FrameResult:
    found: list[Found] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    moderation: Moderation | None = None
    image_vectors: dict[str, np.ndarray] = field(default_factory=dict)  # model -> vector
    text_vectors: dict[str, np.ndarray] = field(default_factory=dict)
    text: str | None = None
    caption: str = ""
    caption_model: str = ""
    notes: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)  # understanding/frame_words.py


class Timings:
    """Seconds spent per stage, summed over frames (thread-safe enough: one per job)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start


def analyze_frame(models: Models, image: Image.Image, kind: str, known_text: str | None,
                  timings: Timings) -> FrameResult:
    result = FrameResult(text=known_text)
    image = rgb(image)
    if models.detector is not None:
        with timings.stage("objects"):
            result.found += models.detector.detect(image)
        if models.features is not None:
            with timings.stage("object_embeddings"):
                _embed_crops(models, image, [f for f in result.found if f.type == "object"])
    if models.faces is not None:
        with timings.stage("faces"):
            result.found += models.faces.detect(image)
    if models.reader is not None and len((known_text or "").strip()) < _OCR_SKIP_CHARS:
        with timings.stage("text"):
            lines = models.reader.read(image)
        result.found += lines
        read = "\n".join(line.label for line in lines)
        if read:
            result.text = read if not known_text else f"{known_text}\n{read}"
    if models.features is not None:
        with timings.stage("labels"):
            vector, labels = models.features.analyze([image])[0]
        result.labels = labels
        result.image_vectors[models.features.name] = vector
    if models.clip is not None:
        with timings.stage("clip"):
            result.image_vectors[models.clip.name] = models.clip.embed_images([image])[0]
    if models.moderator is not None:
        with timings.stage("moderation"):
            result.moderation = models.moderator.classify(image)
    with timings.stage("caption"):
        result.words, saying = frame_words.read(image, result.found, result.labels)
        _caption(models, image, kind, result, saying)
    if models.text is not None:
        with timings.stage("text_embedding"):
            result.text_vectors[models.text.name] = models.text.embed([describe_for_search(
                result)])[0]
    return result


def _embed_crops(models: Models, image: Image.Image, objects: list[Found]) -> None:
    assert models.features is not None
    chosen = sorted(objects, key=lambda f: f.confidence, reverse=True)[:MAX_CROPS]
    chosen = [f for f in chosen if f.box.width >= MIN_CROP and f.box.height >= MIN_CROP]
    if not chosen:
        return
    crops = [image.crop((round(f.box.x), round(f.box.y), round(f.box.x + f.box.width),
                         round(f.box.y + f.box.height))) for f in chosen]
    for found, vector in zip(chosen, models.features.embed(crops), strict=True):
        found.embedding = vector
        found.embedding_model = models.features.name


def _caption(models: Models, image: Image.Image, kind: str, result: FrameResult,
             saying: dict[str, Any]) -> None:
    if models.vision is not None:
        try:
            result.caption = models.vision.describe_sync(jpeg_bytes(image))
            result.caption_model = models.vision.name
            return
        except Exception as exc:  # the endpoint is optional: fall back, and say why
            log.warning("captioning endpoint failed: %s", exc)
            # Users see that it failed; the operator's log says where and why.
            result.notes.append("the captioning endpoint failed; the caption was composed")
    used = [m.name for m in (models.detector, models.faces, models.reader, models.features)
            if m is not None]
    result.caption = compose(kind, result.found, result.labels, result.text, **saying)
    result.caption_model = caption_model(used)


def describe_for_search(result: FrameResult) -> str:
    """The text a frame's text embedding is made from: caption, labels, objects, text read."""
    parts = [result.caption]
    parts += [label.name for label in result.labels[:3]]
    parts += sorted({f.label for f in result.found if f.type == "object"})
    parts += result.words
    if result.text:
        parts.append(result.text[:1000])
    return ". ".join(p for p in parts if p)


def jpeg_bytes(image: Image.Image, max_side: int = 1024) -> bytes:
    """The frame as a JPEG small enough to send to an endpoint."""
    copy = image.copy()
    copy.thumbnail((max_side, max_side))
    out = io.BytesIO()
    copy.save(out, "JPEG", quality=85)
    return out.getvalue()


def embed_crops(models: Models, image: Image.Image, objects: list[Found]) -> None:
    """Give `objects` (found on `image`) the image model's crop embeddings (the objects step)."""
    if models.features is not None:
        _embed_crops(models, image, objects)


def caption_frame(models: Models, image: Image.Image, kind: str, result: FrameResult,
                  colours: tuple[list[str], list[str]]) -> None:
    """Set `result.words` and `result.caption` (from the endpoint, or composed from `result`'s
    findings): the caption step, by the same rule as `analyze_frame`. `colours`: the frame's
    colour reading (understanding/colours.py), made while its image was loaded."""
    result.words, saying = frame_words.from_colours(colours, result.found, result.labels)
    _caption(models, image, kind, result, saying)
