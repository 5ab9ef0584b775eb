"""A perceptual hash of a picture: 64 bits that stay (nearly) the same when the picture is
resized, re-encoded or slightly retouched, and differ for another picture (docs/duplicates.md).

It is the classic pHash, as the `imagehash` package computes it: the picture as 32 x 32 grey,
its 2-D DCT, and one bit per coefficient of the 8 x 8 lowest frequencies, set when the
coefficient is above their median. Written with numpy (a DCT is two small matrix products)
rather than imported: imagehash needs scipy, whose import would cost every decode child a
third of a second.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

BITS = 64
_SIDE = 32
_LOW = 8


@cache
def _dct_matrix() -> np.ndarray:
    """DCT-II basis (unnormalised, as scipy's default): row k is cos(pi k (2n + 1) / 2N)."""
    n = np.arange(_SIDE)
    return np.cos(np.pi * np.outer(n, 2 * n + 1) / (2 * _SIDE))


def of_image(image: Image.Image) -> int:
    """The 64-bit pHash of `image`, as a signed 64-bit integer (what PostgreSQL's BIGINT
    holds); the bit order is imagehash's (row by row, most significant first)."""
    grey = np.asarray(image.convert("L").resize((_SIDE, _SIDE), Image.Resampling.LANCZOS),
                      dtype=np.float64)
    basis = _dct_matrix()
    low = (basis @ grey @ basis.T)[:_LOW, :_LOW]
    bits = (low > np.median(low)).flatten()
    value = int("".join("1" if b else "0" for b in bits), 2)
    return value - (1 << BITS) if value >= 1 << (BITS - 1) else value


def of_file(path: Path) -> int | None:
    """The hash of a picture file the pipeline wrote itself; None when it cannot be read."""
    try:
        with Image.open(path) as image:
            return of_image(image)
    except (OSError, ValueError):
        return None


def distance(a: int, b: int) -> int:
    """How many of the 64 bits differ."""
    return ((a ^ b) & ((1 << BITS) - 1)).bit_count()
