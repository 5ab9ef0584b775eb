"""What the models give back, independent of which model it was."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Box:
    """A rectangle in the pixels of the image the model was given (top-left origin)."""

    x: float
    y: float
    width: float
    height: float

    def clamped(self, width: int, height: int) -> Box:
        """The part of the box inside a width x height image (never negative sizes)."""
        x0 = min(max(self.x, 0.0), float(width))
        y0 = min(max(self.y, 0.0), float(height))
        x1 = min(max(self.x + self.width, 0.0), float(width))
        y1 = min(max(self.y + self.height, 0.0), float(height))
        return Box(x0, y0, max(x1 - x0, 0.0), max(y1 - y0, 0.0))


@dataclass
class Found:
    """One thing a detector found: an object, a face or a line of text."""

    type: str  # "object" | "face" | "text"
    label: str  # what it is: "person", "face", or the text read
    confidence: float
    box: Box
    model: str
    embedding: np.ndarray | None = None  # unit-length float32, or None
    embedding_model: str | None = None


@dataclass(frozen=True)
class Label:
    """A whole-image label (ImageNet class, ...) with its probability."""

    name: str
    score: float


@dataclass
class Moderation:
    """Scores per category in 0..1; `flagged` lists those over the threshold."""

    scores: dict[str, float]
    flagged: list[str] = field(default_factory=list)
    model: str = ""
