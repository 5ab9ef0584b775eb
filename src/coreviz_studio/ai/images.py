"""Untrusted image bytes (from /api/ai/* requests) to a bounded RGB picture."""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps

from coreviz_studio.errors import Invalid, TooLarge, UnsupportedMediaType
from coreviz_studio.formats import sniff
from coreviz_studio.pipeline.decode import flatten

MAX_SIDE = 2048  # models see far less; a bigger picture only costs memory


def open_image(data: bytes, max_pixels: int) -> Image.Image:
    fmt = sniff(data[:4096])
    if fmt is None or fmt.kind != "image" or fmt.pillow is None:
        raise UnsupportedMediaType("image must be a JPEG, PNG, WebP, GIF, HEIC, TIFF or BMP "
                                   "picture (read from its bytes)")
    if fmt.pillow == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[fmt.pillow]) as img:
                if img.width * img.height > max_pixels:
                    raise TooLarge(f"image has more than {max_pixels:,} pixels")
                img.draft("RGB", (MAX_SIDE, MAX_SIDE))
                img.load()
                picture = flatten(ImageOps.exif_transpose(img))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise TooLarge(f"image has more than {max_pixels:,} pixels") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise Invalid("image cannot be decoded (damaged or not what its header says)") from exc
    picture.thumbnail((MAX_SIDE, MAX_SIDE))
    return picture
