"""Turn an uploaded file into frames on disk: the only code that decodes untrusted pixels.

It runs in a child process (`sandbox.py`) with capped memory and time, so a hostile or broken
file can at worst kill that child. What it writes is plain: one normalized JPEG and one
thumbnail per frame, in a directory the caller owns. The models only ever see those JPEGs.

- image: one frame, EXIF orientation applied, alpha flattened on white;
- animated image (GIF, WebP, APNG): frames chosen as for a video, on the animation's own timeline
  (each frame's display time), so the item stays an `image` with several frames;
- video: the first frame, a frame at each scene cut, and one at least every
  `interval` seconds (spread out when the cap on frames would be passed);
- RAW photo (DNG, CR2, NEF, ARW ...): developed by LibRaw (rawpy) with the camera's white
  balance, then as an image;
- pdf: one frame per page, rendered by PDFium, with the page's text layer.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from coreviz_studio.diskspace import is_out_of_space
from coreviz_studio.pipeline import fingerprint, raw, thumbnail

JPEG_QUALITY = 88
# Mean absolute difference (0-255) between two tiny grayscale frames that counts as a cut.
SCENE_CUT = 28.0
_SMALL = (64, 36)  # the size frames are compared at: cheap, and blind to noise
_MIN_GAP = 0.5  # seconds: flashes closer than this to the last kept frame make no new frame
_TRUNCATED_SLACK = 1.0  # seconds between the last decoded frame and the stated duration
# A JPEG decoded at a fraction of its size may give a frame this much smaller than the frame
# size (2016 px from a 12 MP phone photo, for 2048), rather than be decoded whole and resized.
DRAFT_FILL = 7 / 8
_ANIMATED = {"GIF", "WEBP", "PNG"}  # Pillow formats whose extra frames are an animation


class BadMedia(Exception):
    """The file cannot be turned into frames; retrying would not help. The message is for
    users (no server paths)."""


class TooManyPixels(BadMedia):
    """The picture (or a video frame) is larger than the pixel limit."""


@dataclass(frozen=True)
class Limits:
    frame_max_side: int = 2048
    thumbnail_max_side: int = 384
    max_pixels: int = 178_956_970
    video_max_frames: int = 40
    video_interval: float = 10.0
    video_max_seconds: float = 4 * 3600.0
    pdf_max_pages: int = 200


@dataclass
class DecodedFrame:
    index: int
    image: str  # file name of the normalized JPEG inside the output directory
    thumbnail: str
    width: int
    height: int
    timestamp: float = 0.0
    end_timestamp: float | None = None
    page_number: int | None = None
    text: str | None = None  # a PDF page's text layer
    scene_cut: bool = False


@dataclass
class Decoded:
    frames: list[DecodedFrame]
    duration: float | None = None
    page_count: int | None = None
    notes: list[str] = field(default_factory=list)  # limits that cut the file short
    perceptual_hash: int | None = None  # of the shown frame (fingerprint.py); None: none made


def decode(kind: str, src: Path, out: Path, limits: Limits) -> Decoded:
    if kind == "image":
        decoded = _decode_image(src, out, limits)
    elif kind == "video":
        decoded = _decode_video(src, out, limits)
    elif kind == "pdf":
        decoded = _decode_pdf(src, out, limits)
    else:
        raise BadMedia(f"nothing to decode for a {kind}")
    # The frame the item's thumbnail shows (a video's first that is not black), so that videos
    # which open on black are not all alike.
    decoded.perceptual_hash = fingerprint.of_file(thumbnail.choose(
        kind, [out / f.thumbnail for f in decoded.frames]))
    return decoded


class _Chooser:
    """Which frames of a timeline to keep: the first, each scene cut (not closer than _MIN_GAP
    to the last kept one), and one at least every `interval` seconds."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.previous: Any = None
        self.last_kept = -math.inf
        self.kept = 0

    def consider(self, t: float, small: Any) -> tuple[bool, bool]:
        """(keep, is a cut) for the frame at `t` seconds, given as a tiny int16 grey array."""
        cut = self.previous is not None and float(abs(small - self.previous).mean()) > SCENE_CUT
        self.previous = small
        keep = not self.kept or (cut and t - self.last_kept >= _MIN_GAP) or \
            t - self.last_kept >= self.interval
        return keep, cut

    def took(self, t: float) -> None:
        self.last_kept = t
        self.kept += 1


def _end_timestamps(frames: list[DecodedFrame], end: float) -> None:
    """Each frame lasts until the next kept one; the last until `end`."""
    for current, following in zip(frames, [*frames[1:], None], strict=True):
        current.end_timestamp = round(following.timestamp if following else max(
            end, current.timestamp), 3)


def _save(img: Image.Image, out: Path, index: int, limits: Limits, **extra: object) -> DecodedFrame:
    """Write frame `index` (scaled to the frame size) and its thumbnail."""
    img = flatten(img)
    # Bicubic: half the time of Lanczos on a 12 MP photo (measured 170 vs 330 ms), and the
    # difference is invisible at frame size; reducing_gap shrinks by whole factors first.
    img.thumbnail((limits.frame_max_side, limits.frame_max_side), Image.Resampling.BICUBIC,
                  reducing_gap=2.0)
    name, thumb_name = f"{index:05d}.jpg", f"{index:05d}.thumb.jpg"
    img.save(out / name, "JPEG", quality=JPEG_QUALITY)
    thumb = img.copy()
    thumb.thumbnail((limits.thumbnail_max_side, limits.thumbnail_max_side),
                    Image.Resampling.BICUBIC, reducing_gap=2.0)
    thumb.save(out / thumb_name, "JPEG", quality=80)
    return DecodedFrame(index, name, thumb_name, img.width, img.height, **extra)  # type: ignore[arg-type]


def flatten(img: Image.Image) -> Image.Image:
    """RGB, with any transparency laid on white (a transparent logo must not turn black), and
    16-bit grey scaled to 8 bits (Pillow's own conversion clips it: nearly all white)."""
    if img.mode.startswith("I;16") or img.mode == "I":
        img = _eight_bit(img)
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        back = Image.new("RGB", rgba.size, (255, 255, 255))
        back.paste(rgba, mask=rgba.getchannel("A"))
        return back
    return img if img.mode == "RGB" else img.convert("RGB")


def _eight_bit(img: Image.Image) -> Image.Image:
    """A 16-bit (I;16*) or 32-bit integer (I) grey image as 8-bit L: the top byte of each pixel.
    PNG and TIFF store 16-bit grey at full range, which is what Pillow reads into both modes."""
    import numpy as np

    pixels = np.asarray(img).astype(np.int64)
    return Image.fromarray((np.clip(pixels, 0, 65535) >> 8).astype(np.uint8))  # mode L


def load_decoders() -> None:
    """Import every decoder and register Pillow's plugins now (each is otherwise loaded on
    first use). The sandbox's fork server calls this once, so that its children, forks of it,
    start with them loaded instead of importing them for every file (about 30 ms each)."""
    import av  # noqa: F401
    import numpy.ma  # noqa: F401  (imported on the first decode otherwise)
    import pypdfium2  # noqa: F401
    import rawpy  # noqa: F401

    _register_heif()
    Image.init()


def _register_heif() -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()


def _decode_image(src: Path, out: Path, limits: Limits) -> Decoded:
    _register_heif()
    Image.MAX_IMAGE_PIXELS = limits.max_pixels
    if raw.is_raw(src):
        return _decode_raw(src, out, limits)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(src) as img:
                if img.format in _ANIMATED and getattr(img, "is_animated", False):
                    return _decode_animation(img, out, limits)
                _draft(img, limits.frame_max_side)
                img.load()
                ImageOps.exif_transpose(img, in_place=True)  # no copy when already upright
                frame = _save(img, out, 0, limits)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise TooManyPixels(f"the image has more pixels than the limit of "
                            f"{limits.max_pixels:,}") \
            from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        if is_out_of_space(exc):  # writing the frame failed: the disk's fault, not the file's
            raise
        raise BadMedia(f"the image cannot be decoded ({_short(exc)})") from exc
    return Decoded([frame])


def _draft(img: Image.Image, max_side: int) -> None:
    """Have a JPEG decode straight at 1/2, 1/4 or 1/8 of its size (libjpeg scales while it
    decodes) when that is still at least DRAFT_FILL of the frame size, so a big photo is
    neither decoded whole nor resized after: a 4000 x 3000 photo took 70 ms to decode and
    170-290 ms to scale to 2048 px; at 1/2 it decodes in 35 ms as a 2000 x 1500 frame."""
    width, height = img.size
    for scale in (8, 4, 2):
        if max(width, height) / scale >= DRAFT_FILL * max_side:
            img.draft("RGB", (math.ceil(width / scale), math.ceil(height / scale)))
            return
    # Otherwise only a reduction that stays above the frame size (then scaled down to it).
    img.draft("RGB", (max_side, max_side))


def _decode_raw(src: Path, out: Path, limits: Limits) -> Decoded:
    try:
        picture = raw.develop(src, limits.frame_max_side, limits.max_pixels)
    except ValueError as exc:
        raise TooManyPixels(str(exc)) from exc
    except raw.RawFailed as exc:
        raise BadMedia(f"the RAW photo cannot be developed ({exc})") from exc
    return Decoded([_save(picture, out, 0, limits)])


def _decode_animation(img: Image.Image, out: Path, limits: Limits) -> Decoded:
    """An animated GIF, WebP or PNG: its frames on their display timeline, chosen as a video's
    (first, cuts, interval). Frame delays under 20 ms are shown as 100 ms by browsers, and
    taken as such here."""
    import numpy as np

    notes: list[str] = []
    frames: list[DecodedFrame] = []
    chooser = _Chooser(limits.video_interval)
    t = 0.0
    count = getattr(img, "n_frames", 1)
    if count > 1:
        # Spread the regular frames out, as for a video, once the length is known.
        total = 0.0
        for i in range(count):
            img.seek(i)
            total += _delay(img)
        chooser.interval = max(limits.video_interval,
                               total / max(limits.video_max_frames - 1, 1))
    for i in range(count):
        img.seek(i)
        picture = img.convert("RGBA")
        small = np.asarray(picture.convert("L").resize(_SMALL)).astype(np.int16)
        keep, cut = chooser.consider(t, small)
        if keep:
            if len(frames) >= limits.video_max_frames:
                notes.append(f"frames were capped at {limits.video_max_frames}")
                break
            frames.append(_save(picture, out, len(frames), limits, timestamp=round(t, 3),
                                scene_cut=cut))
            chooser.took(t)
        t += _delay(img)
    _end_timestamps(frames, t)
    return Decoded(frames, duration=round(t, 3) or None, notes=notes)


def _delay(img: Image.Image) -> float:
    """Seconds the current frame of an animation is shown."""
    ms = img.info.get("duration") or 0
    return (ms if ms >= 20 else 100) / 1000


def _decode_video(src: Path, out: Path, limits: Limits) -> Decoded:
    import av
    import numpy as np

    notes: list[str] = []
    frames: list[DecodedFrame] = []
    try:
        container = av.open(str(src), metadata_errors="ignore")
    except (av.error.FFmpegError, OSError) as exc:
        if is_out_of_space(exc):
            raise
        raise BadMedia(f"the video cannot be opened ({_short(exc)})") from exc
    with container:
        if not container.streams.video:
            raise BadMedia("the file has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        duration = _duration(container, stream)
        chooser = _Chooser(limits.video_interval)
        origin = float(stream.start_time * stream.time_base) \
            if stream.start_time is not None and stream.time_base is not None else 0.0
        if duration:
            # Spread the regular frames out so that they alone never pass the cap.
            chooser.interval = max(chooser.interval,
                                   duration / max(limits.video_max_frames - 1, 1))
        last_time = 0.0
        try:
            for frame in container.decode(stream):
                # On the video's own clock: MPEG program streams start at 0.5 s or so.
                t = max(0.0, float(frame.time) - origin) if frame.time is not None \
                    else last_time
                last_time = t
                if t > limits.video_max_seconds:
                    notes.append(f"only the first {limits.video_max_seconds:g} s were decoded")
                    break
                if frame.width * frame.height > limits.max_pixels:
                    raise TooManyPixels("the video's frames are larger than the pixel limit")
                small = frame.to_ndarray(format="gray", width=_SMALL[0], height=_SMALL[1])
                keep, cut = chooser.consider(t, small.astype(np.int16))
                if keep:
                    if len(frames) >= limits.video_max_frames:
                        notes.append(f"frames were capped at {limits.video_max_frames}")
                        break
                    frames.append(_save(frame.to_image(), out, len(frames), limits,
                                        timestamp=round(t, 3), scene_cut=cut))
                    chooser.took(t)
        except av.error.FFmpegError as exc:
            if not frames:
                raise BadMedia(f"the video cannot be decoded ({_short(exc)})") from exc
            notes.append("the video is damaged after "
                         f"{last_time:.1f} s; frames up to there were kept")
        if not frames:
            raise BadMedia("the video has no decodable frames")
        end = duration if duration else last_time
        if duration and duration - last_time > _TRUNCATED_SLACK and not notes:
            # FFmpeg's threaded decoder may stop at damage without raising: the timeline says.
            notes.append(f"the video stops decoding at {last_time:.1f} s of {duration:.1f} s "
                         "(damaged or cut short); frames up to there were kept")
            end = last_time
        _end_timestamps(frames, end)
        return Decoded(frames, duration=duration or last_time or None, notes=notes)


def _duration(container: object, stream: object) -> float | None:
    """Seconds, from the stream if it says, else from the container; None if neither knows."""
    if getattr(stream, "duration", None) and getattr(stream, "time_base", None):
        return float(stream.duration * stream.time_base)  # type: ignore[attr-defined]
    total = getattr(container, "duration", None)
    return total / 1_000_000 if total else None


def _decode_pdf(src: Path, out: Path, limits: Limits) -> Decoded:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(src))
    except pdfium.PdfiumError as exc:
        raise BadMedia(f"the PDF cannot be opened ({_short(exc)})") from exc
    notes: list[str] = []
    frames: list[DecodedFrame] = []
    try:
        count = len(pdf)
        if count == 0:
            raise BadMedia("the PDF has no pages")
        if count > limits.pdf_max_pages:
            notes.append(f"only the first {limits.pdf_max_pages} pages were rendered")
        for i in range(min(count, limits.pdf_max_pages)):
            page = pdf[i]
            try:
                w, h = page.get_size()
                # Points to pixels: fit the frame size, never above 3x (216 dpi) for tiny pages.
                scale = min(limits.frame_max_side / max(w, h, 1.0), 3.0)
                image = page.render(scale=scale).to_pil()
                textpage = page.get_textpage()
                text = textpage.get_text_bounded().replace("\r\n", "\n").strip()
                textpage.close()
            finally:
                page.close()
            frames.append(_save(image, out, i, limits, page_number=i + 1,
                                text=text or None))
    except pdfium.PdfiumError as exc:
        if not frames:
            raise BadMedia(f"the PDF cannot be rendered ({_short(exc)})") from exc
        notes.append(f"page {len(frames) + 1} cannot be rendered; earlier pages were kept")
    finally:
        pdf.close()
    return Decoded(frames, page_count=count, notes=notes)


def _short(exc: BaseException) -> str:
    """A decoder's complaint, short and without file paths."""
    text = str(exc) or type(exc).__name__
    if "/" in text:
        text = type(exc).__name__
    return text[:200]
