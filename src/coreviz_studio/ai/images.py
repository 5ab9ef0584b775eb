"""Untrusted image bytes (from /api/ai/* requests) to a bounded RGB picture.

The bytes are decoded by the same sandboxed child as uploads (pipeline/sandbox.py), with its
memory and time caps: a decompression bomb sent to /api/ai/describe costs the server nothing
but a failed child.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from PIL import Image

from coreviz_studio.config import Settings
from coreviz_studio.errors import Invalid, TooLarge, UnsupportedMediaType
from coreviz_studio.formats import sniff
from coreviz_studio.pipeline.decode import BadMedia, Limits, TooManyPixels
from coreviz_studio.pipeline.sandbox import DecodeFailed, decode_isolated

MAX_SIDE = 2048  # models see far less; a bigger picture only costs memory


def open_image(data: bytes, settings: Settings) -> Image.Image:
    fmt = sniff(data[:4096])
    if fmt is None or fmt.kind != "image":
        raise UnsupportedMediaType("image must be a JPEG, PNG, WebP, GIF, HEIC, TIFF or BMP "
                                   "picture (read from its bytes)")
    limits = Limits(frame_max_side=MAX_SIDE, thumbnail_max_side=64,
                    max_pixels=settings.max_image_pixels)
    with tempfile.TemporaryDirectory(prefix="coreviz-ai-") as tmp:
        source = Path(tmp) / f"input.{fmt.ext}"
        source.write_bytes(data)
        out = Path(tmp) / "out"
        out.mkdir()
        try:
            decoded = decode_isolated("image", source, out, limits,
                                      timeout=min(settings.decode_timeout_seconds, 60),
                                      memory_mb=settings.decode_memory_mb)
        except TooManyPixels as exc:
            raise TooLarge(f"image has more than {settings.max_image_pixels:,} pixels") from exc
        except BadMedia as exc:
            raise Invalid(f"image cannot be decoded: {exc}") from exc
        except DecodeFailed as exc:
            raise TooLarge(f"image is too costly to decode: {exc}") from exc
        with Image.open(out / decoded.frames[0].image) as frame:
            frame.load()
            return frame.convert("RGB")
