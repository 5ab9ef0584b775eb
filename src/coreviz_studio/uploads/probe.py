"""Read what a file is without decoding it: dimensions, duration, pages and EXIF.

Only headers are read, so an upload answers fast and a decompression bomb is refused before a
single pixel is decoded. Full decoding (frames, thumbnails) is the pipeline's work. The bytes
come as a seekable reader (a pending blob's, storage/base.py), never as a path.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from PIL import ExifTags, Image, UnidentifiedImageError

from coreviz_studio.errors import Invalid, TooLarge
from coreviz_studio.formats import Format

# EXIF orientations 5-8 turn the picture a quarter, so width and height swap on display.
_QUARTER_TURNS = {5, 6, 7, 8}
_MAX_EXIF_VALUE = 2048  # longer strings and blobs (maker notes, thumbnails) are left out
_MAX_EXIF_TAGS = 300
_RAW_EXIF_BYTES = 1 << 20  # where a RAW file's directories are looked for (they lead the file)


@dataclass
class Probe:
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    page_count: int | None = None
    exif: dict[str, Any] = field(default_factory=lambda: {"tags": {}})


def probe(data: BinaryIO, fmt: Format, max_pixels: int) -> Probe:
    """What the bytes of `data` hold; Invalid (422) when the decoder cannot read what the bytes
    claim to be, TooLarge (413) when an image declares more than `max_pixels`."""
    if fmt.raw:
        return _probe_raw(data, fmt, max_pixels)
    if fmt.kind == "image":
        return _probe_image(data, fmt, max_pixels)
    if fmt.kind == "video":
        return _probe_video(data, fmt)
    return _probe_pdf(data)


def _probe_image(data: BinaryIO, fmt: Format, max_pixels: int) -> Probe:
    assert fmt.pillow is not None  # every image format names its Pillow decoder
    if fmt.pillow == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    # Pillow refuses outright at twice its limit; ours is checked below from the header alone.
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(data, formats=[fmt.pillow]) as img:
                width, height = img.size
                if width * height > max_pixels:
                    raise _too_many_pixels(width, height, max_pixels)
                exif = img.getexif()
                orientation = int(exif.get(ExifTags.Base.Orientation, 1) or 1)
                tags = _exif_tags(exif)
    except Image.DecompressionBombError as exc:
        raise TooLarge(f"The image declares more pixels than the limit of {max_pixels:,} "
                       "(COREVIZ_MAX_IMAGE_PIXELS)") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise Invalid(f"The file looks like {fmt.ext.upper()} but is not a readable image "
                      f"({_reason(exc)})") from exc
    if width <= 0 or height <= 0:
        raise Invalid("The image has no pixels")
    if orientation in _QUARTER_TURNS:
        width, height = height, width
    return Probe(width=width, height=height, exif={"tags": tags})


def _probe_raw(data: BinaryIO, fmt: Format, max_pixels: int) -> Probe:
    """A camera RAW photo's size as LibRaw reads it from the metadata (nothing is developed);
    EXIF by Pillow's TIFF reader where it understands the file's first directory."""
    import rawpy

    try:
        with rawpy.imread(data) as photo:
            sizes = photo.sizes
            width, height, flip = sizes.width, sizes.height, sizes.flip
    except (rawpy.LibRawError, OSError, ValueError) as exc:
        raise Invalid(f"The file looks like {fmt.ext.upper()} but is not a readable RAW photo "
                      f"({_reason(exc)})") from exc
    if width <= 0 or height <= 0:
        raise Invalid("The RAW photo has no pixels")
    if width * height > max_pixels:
        raise _too_many_pixels(width, height, max_pixels)
    if flip in (5, 6):  # LibRaw's flip: 5 and 6 turn the picture a quarter
        width, height = height, width
    tags: dict[str, Any] = {}
    try:  # a RAW file is a TIFF directory: its tags are EXIF (camera, date, GPS ...)
        data.seek(0)
        exif = Image.Exif()
        exif.load(data.read(_RAW_EXIF_BYTES))
        tags = _exif_tags(exif)
    except Exception:  # noqa: S110 - EXIF is a bonus; the photo is already known readable
        pass
    return Probe(width=width, height=height, exif={"tags": tags})


def _reason(exc: BaseException) -> str:
    """A decoder's complaint, kept short."""
    return str(exc)[:300]


def _too_many_pixels(width: int, height: int, limit: int) -> TooLarge:
    return TooLarge(f"The image is {width}x{height} ({width * height:,} pixels); the limit is "
                    f"{limit:,} pixels (COREVIZ_MAX_IMAGE_PIXELS)")


def _exif_tags(exif: Image.Exif) -> dict[str, Any]:
    """EXIF as JSON: tag names, numbers and short strings (the main, Exif and GPS IFDs)."""
    out: dict[str, Any] = {}
    sources: list[tuple[dict[int, Any], dict[int, str]]] = [(dict(exif), ExifTags.TAGS)]
    sub_ifds = ((ExifTags.IFD.Exif, ExifTags.TAGS), (ExifTags.IFD.GPSInfo, ExifTags.GPSTAGS))
    for ifd, names in sub_ifds:
        try:
            sources.append((dict(exif.get_ifd(ifd)), names))
        except Exception:  # noqa: S112 - a broken sub-IFD loses only its own tags
            continue
    for tags, names in sources:
        for key, raw in tags.items():
            if len(out) >= _MAX_EXIF_TAGS:
                return out
            name = names.get(key)
            value = _json_value(raw)
            if name and value is not None and name not in ("ExifOffset", "GPSInfo"):
                out[name] = value
    return out


def _json_value(value: Any, depth: int = 0) -> Any:
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        # PostgreSQL's JSON cannot hold NUL; EXIF strings are often NUL-padded.
        text = value.replace("\x00", "").strip()
        return text if len(text) <= _MAX_EXIF_VALUE else None
    if isinstance(value, bytes):
        return None
    if isinstance(value, tuple | list) and depth < 2 and len(value) <= 64:
        items = [_json_value(v, depth + 1) for v in value]
        return items if all(v is not None for v in items) else None
    try:  # IFDRational and friends
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


def _probe_video(data: BinaryIO, fmt: Format) -> Probe:
    import av

    try:
        # Small probe limits: only the header is wanted, and hostile files cannot make FFmpeg
        # scan far.
        with av.open(data, mode="r", options={"probesize": "5000000",
                                         "analyzeduration": "5000000"}) as container:
            streams = container.streams.video
            if not streams:
                raise Invalid("The file holds no video stream")
            stream = streams[0]
            width = stream.codec_context.width or None
            height = stream.codec_context.height or None
            duration = None
            if container.duration is not None and container.duration > 0:
                duration = container.duration / av.time_base
            elif stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            if _rotation(stream) in (90, 270) and width and height:
                width, height = height, width
    except av.FFmpegError as exc:
        raise Invalid(f"The file looks like {fmt.ext.upper()} but is not a readable video "
                      f"({_reason(exc)})") from exc
    return Probe(width=width, height=height, duration=duration)


def _rotation(stream: Any) -> int:
    """Display rotation of a video stream in degrees (phones record portrait as rotated)."""
    try:
        rotate = stream.metadata.get("rotate")
        if rotate is not None:
            return int(float(rotate)) % 360
        for side in getattr(stream, "side_data", {}) or {}:
            if "displaymatrix" in str(side).lower():
                return int(abs(round(float(stream.side_data[side])))) % 360
    except (TypeError, ValueError, KeyError):
        return 0
    return 0


def _probe_pdf(data: BinaryIO) -> Probe:
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise Invalid("The PDF is password-protected") from exc
        raise Invalid("The file looks like PDF but is not a readable document "
                      f"({_reason(exc)})") from exc
    try:
        pages = len(pdf)
        if pages == 0:
            raise Invalid("The PDF has no pages")
        width, height = pdf[0].get_size()  # points (1/72 inch)
        return Probe(width=round(width), height=round(height), page_count=pages)
    finally:
        pdf.close()
