"""The /api/ai endpoints: describe, tag and embed one image (or embed a text).

With an OpenAI-compatible vision endpoint configured, describe and tag ask it. Without one,
the offline models answer: the description is the composed caption the pipeline would write,
tags come from what the detectors and the classifier found (or, when options are given, the
options that evidence names, ai/choices.py, with how sure that is; failing any, the option
nearest in meaning to the description, as a guess), and embeddings are CLIP's when a CLIP
model is installed, else the text embedding of the image's description, so that images and
texts still share one space.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import anyio
import anyio.to_thread
import numpy as np
from PIL import Image

from coreviz_studio.ai import choices
from coreviz_studio.ai.fetch import load_image_bytes
from coreviz_studio.ai.images import open_image
from coreviz_studio.ai.registry import Models, models_for
from coreviz_studio.config import Settings
from coreviz_studio.errors import AppError, BadGateway, Invalid, Unavailable
from coreviz_studio.pipeline.analyze import (
    FrameResult,
    Timings,
    analyze_frame,
    describe_for_search,
    jpeg_bytes,
)
from coreviz_studio.pipeline.caption import STATED_OBJECT_MIN

log = logging.getLogger(__name__)

MAX_TAGS = 20
MAX_TEXT = 10_000
_MATCH = 0.3  # cosine from which an option counts as matching the image (multiple=true)
GUESS_MAX = 0.2  # the confidence of a choice made by meaning alone never exceeds this


# Decoding and model runs use the cores fully; more at once only queues memory. Requests
# beyond this wait their turn instead of piling up decoders and model calls.
_WORK = anyio.CapacityLimiter(2)


async def load(settings: Settings, source: str, data: bytes | None = None) -> Image.Image:
    """The image of a source; `data`: its bytes, where the caller has them already (one of
    our own blob URLs, read from the store)."""
    if data is None:
        data = await load_image_bytes(source, max_bytes=settings.fetch_max_bytes,
                                      timeout_s=settings.fetch_timeout_seconds)
    return await anyio.to_thread.run_sync(open_image, data, settings, limiter=_WORK)


async def _analyze(models: Models, image: Image.Image) -> FrameResult:
    return await anyio.to_thread.run_sync(analyze_frame, models, image, "image", None,
                                          Timings(), limiter=_WORK)


# What a describe with a prompt is told when only the offline models answer.
OFFLINE_PROMPT_NOTE = (
    "This server has no vision endpoint configured, so the prompt was not read: the offline "
    "models answer with a caption of what they detect (objects, faces and how many, text "
    "read in the image, and what the image looks like to an ImageNet classifier). They cannot "
    "answer questions or follow instructions. To have prompts answered, the operator can set "
    "COREVIZ_VISION_API_BASE to an OpenAI-compatible vision endpoint.")


@dataclass(frozen=True)
class Description:
    text: str
    model: str
    note: str | None = None  # set when a prompt could not be answered


@dataclass(frozen=True)
class Tags:
    tags: list[str]
    model: str
    confidence: float | None = None  # options chosen offline: how sure, 0..1
    evidence: str | None = None  # what the choice rests on, in words


async def describe(settings: Settings, source: str, prompt: str | None,
                   data: bytes | None = None) -> Description:
    image = await load(settings, source, data)
    models = models_for(settings)
    if models.vision is not None:
        with _endpoint_errors():
            text = await models.vision.describe(jpeg_bytes(image), prompt or None)
        return Description(text, models.vision.name)
    result = await _analyze(_without_vision(models), image)
    note = OFFLINE_PROMPT_NOTE if prompt and prompt.strip() else None
    return Description(result.caption, result.caption_model, note)


async def tag(settings: Settings, source: str, prompt: str, options: list[str] | None,
              multiple: bool, data: bytes | None = None) -> Tags:
    image = await load(settings, source, data)
    models = models_for(settings)
    if models.vision is not None:
        with _endpoint_errors():
            tags = await models.vision.tag(jpeg_bytes(image), prompt, options, multiple)
        return Tags(tags[:MAX_TAGS], models.vision.name)
    result = await _analyze(_without_vision(models), image)
    found = _found_tags(result)
    if not options:
        return Tags(found if multiple else found[:1], result.caption_model)
    return await _choose(models, result, options, multiple)


async def _choose(models: Models, result: FrameResult, options: list[str],
                  multiple: bool) -> Tags:
    """Options by the evidence (ai/choices.py); where none names any option, the one nearest in
    meaning to the description, reported as a guess."""
    scored = sorted(choices.score_options(options, result.found, result.labels,
                                          STATED_OBJECT_MIN),
                    key=lambda s: s.score, reverse=True)
    best = scored[0]
    if best.score > 0:
        chosen = [s for s in scored if s.score >= choices.MULTIPLE_MIN] if multiple else []
        chosen = chosen or [best]
        return Tags([s.option for s in chosen], result.caption_model, best.score,
                    best.evidence)
    if models.text is None:
        raise Unavailable("nothing the offline models found names any of the options, and "
                          "choosing by meaning needs the text-embedding model (add "
                          "text-embedding to COREVIZ_MODELS) or a vision endpoint "
                          "(COREVIZ_VISION_API_BASE)")
    scores = await anyio.to_thread.run_sync(_option_scores, models, result, options)
    ranked = sorted(zip(options, scores, strict=True), key=lambda p: p[1], reverse=True)
    chosen_names = [o for o, s in ranked if s >= _MATCH] if multiple else []
    chosen_names = chosen_names or [ranked[0][0]]
    # A guess stays below any evidence-backed choice: at most GUESS_MAX.
    confidence = round(min(max(ranked[0][1], 0.0) * GUESS_MAX, GUESS_MAX), 3)
    return Tags(chosen_names, f"{models.text.name}+{result.caption_model}", confidence,
                f"a guess: nothing the offline models found names an option, so the one "
                f"nearest in meaning to \"{result.caption}\" was taken")


def _found_tags(result: FrameResult) -> list[str]:
    """What the models found, most confident first, without repeats."""
    seen: list[str] = []
    candidates = sorted((f for f in result.found if f.type == "object"
                         and f.confidence >= STATED_OBJECT_MIN),
                        key=lambda f: f.confidence, reverse=True)
    names = [f.label for f in candidates]
    if any(f.type == "face" for f in result.found):
        names.append("face")
    names += [label.name for label in result.labels if label.score >= 0.1]
    if any(f.type == "text" for f in result.found):
        names.append("text")
    for name in names:
        if name not in seen:
            seen.append(name)
    return seen[:MAX_TAGS]


def _option_scores(models: Models, result: FrameResult, options: list[str]) -> list[float]:
    assert models.text is not None
    vectors = models.text.embed([describe_for_search(result), *options])
    return [float(x) for x in vectors[1:] @ vectors[0]]


async def embed(settings: Settings, source: str | None, text: str | None,
                data: bytes | None = None) -> tuple[list[float], str]:
    if (source is None) == (text is None):
        raise Invalid("give exactly one of image or text")
    models = models_for(settings)
    if text is not None:
        if len(text) > MAX_TEXT:
            raise Invalid(f"text is longer than {MAX_TEXT} characters")
        if models.clip is not None:
            vector = await anyio.to_thread.run_sync(models.clip.embed_texts, [text])
            return _floats(vector[0]), models.clip.name
        if models.text is not None:
            vector = await anyio.to_thread.run_sync(models.text.embed, [text])
            return _floats(vector[0]), models.text.name
        raise _no_embedding()
    assert source is not None
    image = await load(settings, source, data)
    if models.clip is not None:
        vector = await anyio.to_thread.run_sync(models.clip.embed_images, [image])
        return _floats(vector[0]), models.clip.name
    if models.text is None:
        raise _no_embedding()
    # No shared image/text model: the image is embedded through its description, in the text
    # model's space, so `embed(image)` and `embed(text)` stay comparable.
    result = await _analyze(_without_vision(models), image)
    return _floats(result.text_vectors[models.text.name]), models.text.name


@contextmanager
def _endpoint_errors() -> Iterator[None]:
    """The configured endpoint failing is a 502 that says how (never the key)."""
    from coreviz_studio.ai.vision_api import VisionApiError

    try:
        yield
    except VisionApiError as exc:
        # The details (the endpoint's address among them) are the operator's, not callers'.
        log.warning("vision endpoint: %s", exc)
        raise BadGateway("the vision endpoint configured on this server failed; the server "
                         "log has the details") from exc


def _without_vision(models: Models) -> Models:
    """The offline models only (the endpoint was already asked, or is not configured)."""
    from dataclasses import replace

    return replace(models, vision=None)


def _floats(vector: np.ndarray) -> list[float]:
    return [round(float(x), 7) for x in vector]


def _no_embedding() -> AppError:
    return Unavailable("no embedding model is enabled (COREVIZ_MODELS)")
