"""What a processing step is, what it runs on, and how its state is recorded.

A step reads the media's stored frames (`FrameView`, reloaded before each step so that it sees
what the steps before it wrote), runs its models outside any transaction (`compute`), then
replaces only its own rows in one short transaction (`write`), together with its state in
`metadata.processing.steps[name]`. Its key is (step, model, version, revision): the models it
ran, their versions, and the step's own revision (bumped when its code writes differently).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from coreviz_studio.ai.base import rgb
from coreviz_studio.ai.registry import Models
from coreviz_studio.ai.types import Box, Found, Label
from coreviz_studio.db.tables import Caption, DetectedObject, Frame, Media
from coreviz_studio.pipeline.analyze import Timings

if TYPE_CHECKING:
    from coreviz_studio.pipeline.process import Pipeline


@dataclass
class FrameView:
    """One stored frame and what the steps so far found on it."""

    id: uuid.UUID
    index: int
    blob_key: str | None
    width: int
    height: int
    text: str | None
    metadata: dict[str, Any]
    found: list[Found] = field(default_factory=list)
    caption: str = ""

    def labels(self) -> list[Label]:
        return [Label(str(item["name"]), float(item["score"]))
                for item in self.metadata.get("labels") or []]


@dataclass
class Run:
    """One job's shared state: each frame image is loaded once and given to every step."""

    pipe: Pipeline
    media_id: uuid.UUID
    kind: str
    blob_key: str
    models: Models
    timings: Timings
    scratch: Path
    decoded: dict[int, Path] = field(default_factory=dict)  # frame index -> this run's decode
    images: dict[uuid.UUID, Image.Image] = field(default_factory=dict)
    memo: dict[tuple[str, uuid.UUID], Any] = field(default_factory=dict)  # shared results

    def release(self, frames: list[FrameView]) -> None:
        """Forget these frames' images (a long video's frames are worked through in chunks)."""
        for frame in frames:
            self.images.pop(frame.id, None)

    def image(self, frame: FrameView) -> Image.Image:
        if frame.id not in self.images:
            path = self.decoded.get(frame.index)
            if path is None:  # a step-only run: the stored frame, fetched once
                if not frame.blob_key:
                    raise FileNotFoundError(f"frame {frame.index} has no stored image")
                path = self.scratch / f"frame-{frame.id}.jpg"
                with self.timings.stage("load_frames"):
                    self.pipe.store.fetch(frame.blob_key, path)
            with Image.open(path) as image:
                image.load()  # read now: the file closes with this block
                self.images[frame.id] = rgb(image)
        return self.images[frame.id]


class Step:
    """One capability. Subclasses set the class attributes and implement the three methods."""

    name: ClassVar[str]
    revision: ClassVar[int] = 1
    needs: ClassVar[tuple[str, ...]] = ()  # steps whose rows it reads: it reruns after them
    composed: ClassVar[bool] = False  # runs without a model of its own (caption, search)
    per_frame: ClassVar[bool] = False  # needs no other step: runs chunk by chunk with the others
    reads_frames: ClassVar[bool] = True  # False: given no frames (it reads what it needs itself)

    def models(self, models: Models) -> list[Any]:
        """The models it runs now (empty: none configured, the step is skipped)."""
        return []

    def prepare(self, run: Run, frames: list[FrameView]) -> None:
        """While these frames' images are loaded for the per-frame steps, compute (into
        `run.memo`) what needs only the pixels; `compute` does what is missing."""

    def compute(self, run: Run, frames: list[FrameView]) -> Any:
        """Run the models (no transaction is open). A per-frame step is given its frames in
        chunks and answers a dict by frame id (merged)."""
        return None

    def write(self, session: Session, media: Media, frames: list[FrameView],
              result: Any) -> list[str]:
        """Replace this step's rows by `result` (None: skipped, remove them); notes for users."""
        raise NotImplementedError

    def configured(self, models: Models) -> bool:
        return self.composed or bool(self.models(models))

    def key(self, models: Models) -> dict[str, Any]:
        """What its recorded state is compared with to tell whether it is current."""
        used = self.models(models)
        names = [str(m.name) for m in used]
        return {"model": ", ".join(names) or ("composed" if self.composed else None),
                "version": ", ".join(model_version(m) for m in used),
                "revision": self.revision}


def model_version(model: Any) -> str:
    """A model's version: its `version` when it has one, else for a file an operator placed
    (the object detector) its size and modification time, else "" (known by name only)."""
    explicit = getattr(model, "version", None)
    if explicit:
        return str(explicit)
    path = getattr(model, "path", None)
    if isinstance(path, Path) and path.is_file():
        info = path.stat()
        return f"{info.st_size}-{int(info.st_mtime)}"
    return ""


def is_current(record: dict[str, Any] | None, key: dict[str, Any]) -> bool:
    return record is not None and all(record.get(k) == v for k, v in key.items())


def load_frames(session: Session, media_id: uuid.UUID) -> list[FrameView]:
    """The media's frames with their objects and captions, in frame order."""
    frames = {f.id: FrameView(f.id, f.frame_index, f.blob_key, f.width or 0, f.height or 0,
                              f.text, dict(f.metadata_ or {}))
              for f in session.scalars(select(Frame).where(Frame.media_id == media_id)
                                       .order_by(Frame.frame_index))}
    for o in session.scalars(select(DetectedObject).where(DetectedObject.media_id == media_id)
                             .order_by(DetectedObject.confidence.desc(), DetectedObject.id)):
        if o.frame_id in frames:
            frames[o.frame_id].found.append(Found(
                o.type, o.label, float(o.confidence or 0.0),
                Box(o.bbox_x or 0.0, o.bbox_y or 0.0, o.bbox_width or 0.0, o.bbox_height or 0.0),
                o.model or ""))
    for frame_id, text in session.execute(select(Caption.frame_id, Caption.text)
                                          .where(Caption.frame_id.in_(list(frames)))):
        frames[frame_id].caption = text
    return list(frames.values())
