"""Dominant colour names and light words of a picture, from its pixels (no model).

The frame is shrunk to 48x48 and each pixel named by its hue, saturation and brightness (HSV);
the names covering at least `MIN_SHARE` of the picture are its colours, most first.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from coreviz_studio.ai.base import rgb

MIN_SHARE = 0.12
MAX_COLOURS = 3
_SIDE = 48
DARK_BELOW = 0.22  # mean brightness (0..1) of a dark picture ("night", "dark")
BRIGHT_ABOVE = 0.72
GREYSCALE_BELOW = 0.06  # mean saturation of a black-and-white picture
# Hue bounds on PIL's 0..255 scale: (upper bound, name), in order.
_HUES = [(11, "red"), (25, "orange"), (45, "yellow"), (120, "green"), (185, "blue"),
         (212, "purple"), (238, "pink"), (256, "red")]


def _names(hsv: np.ndarray) -> np.ndarray:
    h = hsv[..., 0]
    s, v = hsv[..., 1] / 255.0, hsv[..., 2] / 255.0
    names = np.empty(h.shape, dtype=object)
    bounds = np.array([b for b, _ in _HUES])
    names[:] = np.array([n for _, n in _HUES], dtype=object)[np.searchsorted(bounds, h,
                                                                             side="right")]
    warm = np.isin(names, ["red", "orange", "yellow"])
    names[warm & (v < 0.6) & (s > 0.25)] = "brown"
    grey = s < 0.18
    names[grey] = "grey"
    names[grey & (v > 0.85)] = "white"
    names[v < 0.18] = "black"
    return names


def _hsv(image: Image.Image) -> np.ndarray:
    """The picture shrunk to 48x48, as HSV (PIL's 0..255 scales)."""
    return np.asarray(rgb(image).resize((_SIDE, _SIDE), Image.Resampling.BOX)
                      .convert("HSV"))


def colours(image: Image.Image | np.ndarray) -> list[str]:
    """The dominant colour names, most first: ["blue", "white"]."""
    hsv = image if isinstance(image, np.ndarray) else _hsv(image)
    names, counts = np.unique(_names(hsv), return_counts=True)
    order = np.argsort(-counts, kind="stable")
    total = counts.sum()
    return [str(names[i]) for i in order[:MAX_COLOURS] if counts[i] / total >= MIN_SHARE]


def light(image: Image.Image | np.ndarray) -> list[str]:
    """Words for the picture's light: "dark", "bright", "black and white"."""
    hsv = (image if isinstance(image, np.ndarray) else _hsv(image)).astype(np.float32) / 255
    words = []
    if hsv[..., 1].mean() < GREYSCALE_BELOW:
        words.append("black and white")
    brightness = hsv[..., 2].mean()
    if brightness < DARK_BELOW:
        words.append("dark")
    elif brightness > BRIGHT_ABOVE:
        words.append("bright")
    return words


def read(image: Image.Image) -> tuple[list[str], list[str]]:
    """(colours, light words) of the picture, shrinking it once."""
    hsv = _hsv(image)
    return colours(hsv), light(hsv)


def sentence(names: list[str], lights: list[str]) -> str:
    """"Colours: blue and white; dark." (empty when nothing stands out)."""
    parts = []
    if names:
        parts.append("Colours: " + (names[0] if len(names) == 1
                                    else ", ".join(names[:-1]) + " and " + names[-1]))
    if lights:
        parts.append(", ".join(lights))
    return ("; ".join(parts) + ".") if parts else ""
