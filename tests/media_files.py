"""Real files of every supported format, made on the fly (Pillow, pillow-heif, PyAV, PDFium),
and hostile ones."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

from PIL import Image


def image(fmt: str = "JPEG", size: tuple[int, int] = (64, 48), orientation: int | None = None,
          color: str = "red", noise: bool = False) -> bytes:
    img = Image.new("RGB", size, color)
    if noise:  # incompressible: the picture data dwarfs the header
        img = Image.merge("RGB", [Image.effect_noise(size, 80)] * 3)
    out = io.BytesIO()
    kwargs = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation  # Orientation
        exif[0x010F] = "TestCam\x00"  # Make, NUL-padded as cameras write it
        kwargs["exif"] = exif.tobytes()
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    img.save(out, format=fmt, **kwargs)
    return out.getvalue()


def video(path: Path, container: str = "mp4", codec: str = "libx264", seconds: float = 1.0,
          size: tuple[int, int] = (64, 48), fps: int = 10, pix_fmt: str = "yuv420p") -> bytes:
    import av

    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = pix_fmt
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_image(Image.new("RGB", size, (i * 20 % 255, 0, 0)))
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.read_bytes()


# Containers beyond MP4/MOV/WebM/MKV, each with an encoder PyAV's wheel ships: (muxer, codec,
# extension, frame size, frames per second, pixel format). MPEG-1/2 take only their standard
# rates; H.263 only its standard sizes (176 x 144 is QCIF); MJPEG wants full-range YUV.
MORE_VIDEOS = {
    "avi": ("avi", "mpeg4", "avi", (64, 48), 10, "yuv420p"),
    "avi-mjpeg": ("avi", "mjpeg", "avi", (64, 48), 10, "yuvj420p"),
    "mpeg-ps": ("mpeg", "mpeg1video", "mpg", (64, 48), 25, "yuv420p"),
    "vob": ("vob", "mpeg2video", "vob", (64, 48), 25, "yuv420p"),
    "3gp": ("3gp", "h263", "3gp", (176, 144), 10, "yuv420p"),
    "m4v": ("ipod", "libx264", "m4v", (64, 48), 10, "yuv420p"),
}


def more_video(path: Path, kind: str, seconds: float = 2.0) -> bytes:
    """A real file of one of MORE_VIDEOS' kinds."""
    container, codec, _, size, fps, pix_fmt = MORE_VIDEOS[kind]
    return video(path, container, codec, seconds=seconds, size=size, fps=fps, pix_fmt=pix_fmt)


def animation(fmt: str = "GIF", cut_at: float = 2.0, seconds: float = 4.0,
              size: tuple[int, int] = (160, 120), delay_ms: int = 100) -> bytes:
    """An animated GIF, WebP or PNG (APNG), by Pillow, made as video_with_cut's video: a
    drifting red shot, then from `cut_at` a hard cut to a blue one with a white square."""
    count = int(seconds * 1000 / delay_ms)
    frames = [Image.new("RGB", size, (200, 40 + i % 10, 30)) if i * delay_ms / 1000 < cut_at
              else _blue_scene(size) for i in range(count)]
    out = io.BytesIO()
    frames[0].save(out, fmt, save_all=True, append_images=frames[1:], duration=delay_ms,
                   loop=0, **({"lossless": True} if fmt == "WEBP" else {}))
    return out.getvalue()


def dng(picture: Image.Image) -> bytes:
    """A real DNG (Adobe's open RAW format) of `picture`: its pixels as the 12-bit RGGB Bayer
    mosaic a camera's sensor records, with the tags LibRaw needs to develop it (version, CFA
    layout, levels, a colour matrix: sRGB's), written by tifffile."""
    import numpy as np
    import tifffile

    rgb = np.asarray(picture.convert("RGB")).astype(np.uint16)
    height, width = (rgb.shape[0] // 2) * 2, (rgb.shape[1] // 2) * 2
    mosaic = np.zeros((height, width), np.uint16)
    mosaic[0::2, 0::2] = rgb[0:height:2, 0:width:2, 0]  # R
    mosaic[0::2, 1::2] = rgb[0:height:2, 1:width:2, 1]  # G
    mosaic[1::2, 0::2] = rgb[1:height:2, 0:width:2, 1]  # G
    mosaic[1::2, 1::2] = rgb[1:height:2, 1:width:2, 2]  # B
    xyz_to_srgb = (3.2404542, -1.5371385, -0.4985314, -0.9692660, 1.8760108, 0.0415560,
                   0.0556434, -0.2040259, 1.0572252)
    matrix = [v for x in xyz_to_srgb for v in (round(x * 10000), 10000)]
    tags = [
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50707, "B", 4, (1, 1, 0, 0), True),  # DNGBackwardVersion
        (50708, "s", 0, "CoreViz Test Camera", True),  # UniqueCameraModel
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, (0, 1, 1, 2), True),  # CFAPattern: R G / G B
        (50714, "I", 1, 0, True),  # BlackLevel
        (50717, "I", 1, 4095, True),  # WhiteLevel
        (50721, "2i", 9, matrix, True),  # ColorMatrix1
        (50778, "H", 1, 21, True),  # CalibrationIlluminant1: D65
        (50728, "2I", 3, (1, 1, 1, 1, 1, 1), True),  # AsShotNeutral
        (271, "s", 0, "CoreViz", True),  # Make
        (272, "s", 0, "Test Camera", True),  # Model
    ]
    out = io.BytesIO()
    tifffile.imwrite(out, mosaic * 16, photometric=32803, extratags=tags, subfiletype=0,
                     metadata=None)
    return out.getvalue()


def pdf(pages: int = 2, size: tuple[float, float] = (612, 792)) -> bytes:
    import pypdfium2

    doc = pypdfium2.PdfDocument.new()
    for _ in range(pages):
        doc.new_page(*size)
    out = io.BytesIO()
    doc.save(out)
    doc.close()
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def flat_png(size: tuple[int, int], mode: str = "RGB", color: tuple[int, ...] = (128, 128, 128),
             band_rows: int = 64) -> bytes:
    """A real, complete PNG of one colour, made in a fraction of the time Pillow takes for a huge
    one (10000 x 10000: 300 MB of pixels, a few hundred KB of file).

    Pillow deflates every pixel; here one band of rows is deflated once and repeated: after a
    full flush a deflate stream does not refer back, so identical input bands give identical
    output bytes. The zlib checksum is computed over the whole picture as usual."""
    channels = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
    color_type = {"L": 0, "RGB": 2, "RGBA": 6}[mode]
    width, height = size
    row = b"\x00" + bytes(color[:channels]) * width  # filter byte "none", then the pixels
    band = row * band_rows
    bands, rest = divmod(height, band_rows)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate: the zlib framing is ours
    first = deflate.compress(band) + deflate.flush(zlib.Z_FULL_FLUSH)
    repeated = deflate.compress(band) + deflate.flush(zlib.Z_FULL_FLUSH) if bands > 1 else b""
    tail = deflate.compress(row * rest) + deflate.flush(zlib.Z_FINISH)
    checksum = 1
    for _ in range(bands):
        checksum = zlib.adler32(band, checksum)
    checksum = zlib.adler32(row * rest, checksum)
    idat = (b"\x78\xda" + (first if bands else b"") + repeated * max(bands - 2, 0)
            + (repeated if bands > 1 else b"") + tail + struct.pack(">I", checksum))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny PNG whose header declares width x height pixels (the data is a few bytes)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _h264(path: Path, size: tuple[int, int], fps: int, frames: Iterator[Image.Image]) -> bytes:
    import av

    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_image(img)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.read_bytes()


def _blue_scene(size: tuple[int, int]) -> Image.Image:
    from PIL import ImageDraw

    img = Image.new("RGB", size, (20, 40, 210))
    ImageDraw.Draw(img).rectangle((40, 30, 100, 90), fill="white")
    return img


def video_with_cut(path: Path, cut_at: float = 2.0, seconds: float = 4.0,
                   size: tuple[int, int] = (160, 120), fps: int = 10) -> bytes:
    """A video of one shot (a slowly drifting red scene) and, from `cut_at`, a hard cut to a
    different one (blue, with a white square)."""
    return _h264(path, size, fps, (
        Image.new("RGB", size, (200, 40 + i % 10, 30)) if i / fps < cut_at else _blue_scene(size)
        for i in range(int(seconds * fps))))


def photo_video(path: Path, photo: str, size: tuple[int, int] = (160, 120),
                black_seconds: float = 1.0, seconds: float = 2.0, fps: int = 10) -> bytes:
    """A video that opens on black and cuts to one of scikit-image's photos (see photo())."""
    import numpy as np
    import skimage.data

    scene = Image.fromarray(np.asarray(getattr(skimage.data, photo)())).convert("RGB")
    scene = scene.resize(size)
    return _h264(path, size, fps, (
        Image.new("RGB", size, "black") if i / fps < black_seconds else scene
        for i in range(int(seconds * fps))))


def video_from_black(path: Path, black_seconds: float = 1.0, seconds: float = 3.0,
                     size: tuple[int, int] = (160, 120), fps: int = 10) -> bytes:
    """A video that opens on black (a fade-in, as many do) and cuts to a scene at
    `black_seconds`: blue, with a white square."""
    return _h264(path, size, fps, (
        Image.new("RGB", size, "black") if i / fps < black_seconds else _blue_scene(size)
        for i in range(int(seconds * fps))))


def pdf_with_text(pages: list[str]) -> bytes:
    """A PDF with one line of Helvetica text per page (written by hand: PDFium can read but
    the Python binding has no simple way to write text)."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", ""]
    kids = []
    for text in pages:
        content = f"BT /F1 24 Tf 72 700 Td ({text}) Tj ET".encode()
        page_no = len(objects) + 1
        kids.append(f"{page_no} 0 R")
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                       f"/Resources << /Font << /F1 {page_no + 1} 0 R >> >> "
                       f"/Contents {page_no + 2} 0 R >>")
        objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
        objects.append(f"<< /Length {len(content)} >>\nstream\n{content.decode()}\nendstream")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(pages)} >>"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n").encode()
    return bytes(out)


def photo(name: str) -> bytes:
    """One of scikit-image's bundled photos (astronaut, chelsea, coffee, ...) as a JPEG."""
    import numpy as np
    import skimage.data

    pixels = np.asarray(getattr(skimage.data, name)())
    out = io.BytesIO()
    Image.fromarray(pixels).convert("RGB").save(out, "JPEG", quality=92)
    return out.getvalue()


def printed_text(lines: list[str], size: tuple[int, int] = (900, 400)) -> bytes:
    """Black text on white, as a PNG: a page of print for the text reader."""
    from PIL import ImageDraw, ImageFont

    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=64)
    for i, line in enumerate(lines):
        draw.text((40, 40 + i * 110), line, fill="black", font=font)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()
