"""The steps that run a model over each frame: labels, objects, faces, text, moderation.

Each one replaces only what it owns: the frames' `labels` or `moderation` metadata, or the
media's objects of its own type ("object", "face", "text").
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from coreviz_studio.ai.registry import Models
from coreviz_studio.ai.types import Found, Moderation
from coreviz_studio.db.tables import Frame, Media
from coreviz_studio.pipeline.analyze import embed_crops
from coreviz_studio.pipeline.steps.base import FrameView, Run, Step
from coreviz_studio.pipeline.store import (
    TEXT_LAYER,
    moderation_view,
    replace_objects,
    worst,
)

FEATURES = "features"  # Run.memo: the image model's vector per frame (labels and embeddings)
_BATCH = 16  # frames per call of a batching model
_OCR_SKIP_CHARS = 20  # a PDF page whose text layer has this much needs no OCR


def frame_rows(session: Session, media: Media) -> dict[uuid.UUID, Frame]:
    return {f.id: f for f in session.scalars(select(Frame).where(Frame.media_id == media.id))}


def set_frame_metadata(session: Session, media: Media, key: str,
                       values: dict[uuid.UUID, Any]) -> None:
    """Set (or, for a frame without a value, remove) one key of each frame's metadata."""
    for frame_id, frame in frame_rows(session, media).items():
        rest = {k: v for k, v in (frame.metadata_ or {}).items() if k != key}
        frame.metadata_ = {**rest, key: values[frame_id]} if frame_id in values else rest


def features_of(run: Run, frames: list[FrameView]) -> list[Any]:
    """The image model's (vector, labels) per frame, computed once per run and frame."""
    assert run.models.features is not None
    missing = [f for f in frames if (FEATURES, f.id) not in run.memo]
    for start in range(0, len(missing), _BATCH):
        chunk = missing[start:start + _BATCH]
        results = run.models.features.analyze([run.image(f) for f in chunk])
        for frame, result in zip(chunk, results, strict=True):
            run.memo[(FEATURES, frame.id)] = result
    return [run.memo[(FEATURES, f.id)] for f in frames]


class Labels(Step):
    name = "labels"
    per_frame = True

    def models(self, models: Models) -> list[Any]:
        return [models.features] if models.features is not None else []

    def compute(self, run: Run, frames: list[FrameView]) -> Any:
        return {f.id: labels for f, (_, labels) in zip(frames, features_of(run, frames),
                                                       strict=True)}

    def write(self, session: Session, media: Media, frames: list[FrameView],
              result: Any) -> list[str]:
        values = {frame_id: [{"name": label.name, "score": round(label.score, 4)}
                             for label in labels]
                  for frame_id, labels in (result or {}).items() if labels}
        set_frame_metadata(session, media, "labels", values)
        return []


class _Finder(Step):
    """A detector whose findings are the media's objects of one type."""

    kind: str
    per_frame = True

    def detect(self, run: Run, frame: FrameView) -> list[Found]:
        raise NotImplementedError

    def compute(self, run: Run, frames: list[FrameView]) -> Any:
        return {f.id: self.detect(run, f) for f in frames}

    def write(self, session: Session, media: Media, frames: list[FrameView],
              result: Any) -> list[str]:
        sizes = {f.id: (f.width, f.height) for f in frames}
        replace_objects(session, media, self.kind, result or {}, sizes)
        return []


class Objects(_Finder):
    name, kind = "objects", "object"

    def models(self, models: Models) -> list[Any]:
        if models.detector is None:
            return []
        return [models.detector] + ([models.features] if models.features is not None else [])

    def detect(self, run: Run, frame: FrameView) -> list[Found]:
        assert run.models.detector is not None
        image = run.image(frame)
        found = [f for f in run.models.detector.detect(image) if f.type == "object"]
        embed_crops(run.models, image, found)
        return found


class Faces(_Finder):
    name, kind = "faces", "face"

    def models(self, models: Models) -> list[Any]:
        return [models.faces] if models.faces is not None else []

    def detect(self, run: Run, frame: FrameView) -> list[Found]:
        assert run.models.faces is not None
        return [f for f in run.models.faces.detect(run.image(frame)) if f.type == "face"]


class Text(_Finder):
    """Lines read from the picture; the frame's `text` is its file's text layer (a PDF page's)
    followed by what was read."""

    name, kind = "text", "text"

    def models(self, models: Models) -> list[Any]:
        return [models.reader] if models.reader is not None else []

    def detect(self, run: Run, frame: FrameView) -> list[Found]:
        assert run.models.reader is not None
        if len(layer_text(frame).strip()) >= _OCR_SKIP_CHARS:
            return []
        return list(run.models.reader.read(run.image(frame)))

    def write(self, session: Session, media: Media, frames: list[FrameView],
              result: Any) -> list[str]:
        super().write(session, media, frames, result)
        views = {f.id: f for f in frames}
        for frame_id, frame in frame_rows(session, media).items():
            known = layer_text(views[frame_id]) if frame_id in views else ""
            read = "\n".join(line.label for line in (result or {}).get(frame_id, []))
            frame.text = "\n".join(t for t in (known, read) if t) or None
        return []


def layer_text(frame: FrameView) -> str:
    """The text the file itself had (decode stores its length in the frame's metadata)."""
    chars = int(frame.metadata.get(TEXT_LAYER) or 0)
    return (frame.text or "")[:chars]


class Moderations(Step):
    name = "moderation"
    per_frame = True

    def models(self, models: Models) -> list[Any]:
        return [models.moderator] if models.moderator is not None else []

    def compute(self, run: Run, frames: list[FrameView]) -> Any:
        assert run.models.moderator is not None
        return {f.id: run.models.moderator.classify(run.image(f)) for f in frames}

    def write(self, session: Session, media: Media, frames: list[FrameView],
              result: Any) -> list[str]:
        found: dict[uuid.UUID, Moderation] = result or {}
        set_frame_metadata(session, media, "moderation",
                           {k: moderation_view(v) for k, v in found.items()})
        rest = {k: v for k, v in media.metadata_.items() if k != "moderation"}
        if found:
            rest["moderation"] = moderation_view(worst(list(found.values())))
        media.metadata_ = rest
        return []
