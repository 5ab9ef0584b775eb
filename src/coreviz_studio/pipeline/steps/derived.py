"""The steps that build on what the others stored: caption, embeddings, search document."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from coreviz_studio.ai.registry import Models
from coreviz_studio.db.tables import Caption, Embedding, Frame, Media
from coreviz_studio.pipeline.analyze import FrameResult, caption_frame, describe_for_search
from coreviz_studio.pipeline.steps.base import FrameView, Run, Step
from coreviz_studio.pipeline.steps.finders import features_of, set_frame_metadata
from coreviz_studio.search import document
from coreviz_studio.understanding import colours, frame_words

_FINDERS = ("labels", "objects", "faces", "text")
_CLIP = "clip"  # Run.memo: the CLIP image vector per frame
_COLOURS = "colours"  # Run.memo: the colour reading per frame
WORDS = "words"  # frame metadata: the words understanding adds (understanding/frame_words.py)
_NO_PIXELS = Image.new("RGB", (1, 1))  # a composed caption reads the findings, not the image


def findings(frame: FrameView) -> FrameResult:
    """A frame's stored findings, as the caption and the text embedding read them."""
    return FrameResult(found=list(frame.found), labels=frame.labels(), text=frame.text,
                       caption=frame.caption, words=list(frame.metadata.get(WORDS) or []))


def colours_of(run: Run, frame: FrameView) -> tuple[list[str], list[str]]:
    """The frame's colour and light words (understanding/colours.py), read once per run while
    its image is loaded (the caption step's `prepare`), or from the image when asked later."""
    if not frame_words.enabled():
        return [], []
    if (_COLOURS, frame.id) not in run.memo:
        run.memo[(_COLOURS, frame.id)] = colours.read(run.image(frame))
    reading: tuple[list[str], list[str]] = run.memo[(_COLOURS, frame.id)]
    return reading


class Captions(Step):
    """The endpoint's caption when one is configured, else one composed from the findings."""

    name = "caption"
    needs = _FINDERS
    composed = True

    def models(self, models: Models) -> list[Any]:
        return [models.vision] if models.vision is not None else []

    def prepare(self, run: Run, frames: list[FrameView]) -> None:
        for frame in frames:
            colours_of(run, frame)

    def compute(self, run: Run, frames: list[FrameView]) -> Any:
        results = {}
        for frame in frames:
            result = findings(frame)
            image = run.image(frame) if run.models.vision is not None else _NO_PIXELS
            caption_frame(run.models, image, run.kind, result, colours_of(run, frame))
            results[frame.id] = result
        return results

    def write(self, session: Session, media: Media, frames: list[FrameView],
              result: Any) -> list[str]:
        ids = [f.id for f in frames]
        session.execute(delete(Caption).where(Caption.frame_id.in_(
            select(Frame.id).where(Frame.media_id == media.id))))
        notes: list[str] = []
        for frame_id in ids:
            found: FrameResult | None = (result or {}).get(frame_id)
            if found is not None and found.caption:
                session.add(Caption(organization_id=media.organization_id, frame_id=frame_id,
                                    text=found.caption, model=found.caption_model))
            if found is not None:
                notes += [n for n in found.notes if n not in notes]
        # The words go with the caption they are said in (and the search document).
        set_frame_metadata(session, media, WORDS, {
            frame_id: found.words for frame_id, found in (result or {}).items() if found.words})
        return notes


class Embeddings(Step):
    """Image vectors (the image model, CLIP) and the text vector of each frame's description
    (caption, labels, objects, text read)."""

    name = "embeddings"
    needs = ("caption", *_FINDERS)

    def models(self, models: Models) -> list[Any]:
        return [m for m in (models.features, models.clip, models.text) if m is not None]

    def prepare(self, run: Run, frames: list[FrameView]) -> None:
        if run.models.features is not None:
            features_of(run, frames)
        clip_of(run, frames)

    def compute(self, run: Run, frames: list[FrameView]) -> Any:
        m = run.models
        rows: list[tuple[uuid.UUID, str, str, np.ndarray]] = []
        if m.features is not None:
            for frame, (vector, _) in zip(frames, features_of(run, frames), strict=True):
                rows.append((frame.id, "image", m.features.name, vector))
        if m.clip is not None:
            rows += [(f.id, "image", m.clip.name, v)
                     for f, v in zip(frames, clip_of(run, frames), strict=True)]
        if m.text is not None and frames:
            vectors = m.text.embed([describe_for_search(findings(f)) for f in frames])
            rows += [(f.id, "text", m.text.name, v) for f, v in zip(frames, vectors, strict=True)]
        return rows

    def write(self, session: Session, media: Media, frames: list[FrameView],
              result: Any) -> list[str]:
        session.execute(delete(Embedding).where(Embedding.media_id == media.id))
        for frame_id, kind, model, vector in result or []:
            session.add(Embedding(organization_id=media.organization_id,
                                  dataset_id=media.dataset_id, media_id=media.id,
                                  frame_id=frame_id, kind=kind, model=model, dim=len(vector),
                                  embedding=vector))
        return []


def clip_of(run: Run, frames: list[FrameView]) -> list[np.ndarray]:
    """CLIP's image vector per frame, computed once per run and frame."""
    if run.models.clip is None:
        return []
    missing = [f for f in frames if (_CLIP, f.id) not in run.memo]
    if missing:
        vectors = run.models.clip.embed_images([run.image(f) for f in missing])
        for frame, vector in zip(missing, vectors, strict=True):
            run.memo[(_CLIP, frame.id)] = vector
    return [run.memo[(_CLIP, f.id)] for f in frames]


class SearchDocument(Step):
    """The media's text search document (search/document.py), from everything stored."""

    name = "search"
    needs = ("caption", *_FINDERS)
    composed = True
    reads_frames = False  # document.refresh reads the stored rows itself

    def write(self, session: Session, media: Media, frames: list[FrameView],
              result: Any) -> list[str]:
        document.refresh(session, [media.id])
        return []
