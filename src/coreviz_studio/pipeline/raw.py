"""RAW camera photos (DNG, CR2, NEF, ARW ...), developed by LibRaw through rawpy, whose wheels
bundle it: no system library, no network.

The file is developed with the camera's white balance, 8 bits per channel, at half size when
that still covers the frame size (LibRaw's half_size skips demosaicing: four times less work).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from coreviz_studio.formats import SNIFF_BYTES, is_raw_head


class RawFailed(Exception):
    """LibRaw cannot develop the file."""


def is_raw(src: Path) -> bool:
    with open(src, "rb") as f:
        return is_raw_head(f.read(SNIFF_BYTES))


def develop(src: Path, max_side: int, max_pixels: int) -> Image.Image:
    """The photo as an RGB picture; RawFailed when LibRaw cannot read it, ValueError when it
    has more pixels than `max_pixels`."""
    import rawpy

    try:
        with rawpy.imread(str(src)) as photo:
            width, height = photo.sizes.width, photo.sizes.height
            if width * height > max_pixels:
                raise ValueError(f"the photo has more pixels than the limit of {max_pixels:,}")
            half = max(width, height) // 2 >= max_side
            rgb = photo.postprocess(use_camera_wb=True, output_bps=8, half_size=half,
                                    no_auto_bright=False)
    except (rawpy.LibRawError, OSError) as exc:
        raise RawFailed(str(exc)[:200] or type(exc).__name__) from exc
    return Image.fromarray(rgb)
