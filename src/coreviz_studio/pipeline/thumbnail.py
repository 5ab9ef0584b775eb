"""The item's thumbnail: the one small picture the Studio's grid loads (docs/thumbnails.md).

It is made from a frame processing already wrote: an upright RGB JPEG in which decode.py dealt
once with EXIF orientation, transparency, CMYK, 16-bit and palettes. So no untrusted file is
decoded here, and items processed before thumbnails existed get theirs from stored frames
(pipeline/missing_thumbnails.py) without processing again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageStat

log = logging.getLogger(__name__)

MAX_SIDE = 400  # a ~200 CSS px grid cell on a 2x screen
QUALITY = 80  # WebP: 20-30% smaller than JPEG q80 (docs/thumbnails.md); every browser has it
EXT = "webp"
POSTER_CANDIDATES = 5  # a video's poster is one of its first frames...
_FLAT = 4.0  # ...the first whose grey levels vary more than this (black, a fade: nothing to see)


def candidates(kind: str) -> int:
    """How many of an item's first frames the choice of its picture looks at."""
    return POSTER_CANDIDATES if kind == "video" else 1


def choose(kind: str, frames: Sequence[Path]) -> Path:
    """The frame to show: an image's only frame, a PDF's first page, a video's first frame that
    is not flat (many open on black), or its first when all are."""
    if kind == "video":
        for frame in frames[:POSTER_CANDIDATES]:
            if not _flat(frame):
                return frame
    return frames[0]


def _flat(frame: Path) -> bool:
    with Image.open(frame) as img:
        img.draft("L", (64, 64))  # JPEG: decoded at a fraction of its size
        return ImageStat.Stat(img.convert("L").resize((32, 32))).stddev[0] < _FLAT


def render(frame: Path, dest: Path) -> None:
    """Write the thumbnail of `frame` to `dest`: longest side MAX_SIDE (never enlarged), WebP."""
    with Image.open(frame) as img:
        img.draft("RGB", (MAX_SIDE, MAX_SIDE))
        small = img.convert("RGB")
        # Lanczos: at this size the sharpest, and cheap after draft's whole-factor shrink.
        small.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
        small.save(dest, "WEBP", quality=QUALITY, method=4)


def make(kind: str, frames: Sequence[Path], dest: Path) -> Path | None:
    """The thumbnail of an item whose frames (in order) are `frames`, written to `dest`; None
    (logged) when it cannot be made, or there is no frame: a thumbnail never fails an item."""
    if not frames:
        return None
    try:
        render(choose(kind, frames), dest)
    except Exception:
        log.warning("no thumbnail for a %s: it could not be made", kind, exc_info=True)
        return None
    return dest
