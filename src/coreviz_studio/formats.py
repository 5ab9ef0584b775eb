"""The file formats the library accepts, recognised from their first bytes.

A file's type is decided here from its content, never from its name or the declared content
type; the decoders (uploads/probe.py) then confirm it. The blob store names files with the
extension chosen here, and blob responses take their Content-Type from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# How many leading bytes `sniff` needs to decide.
SNIFF_BYTES = 4096


@dataclass(frozen=True)
class Format:
    kind: str  # the media type on the wire: image, video or pdf
    mime: str
    ext: str
    pillow: str | None = None  # Pillow's name for the format (images only)
    raw: bool = False  # a camera RAW photo: LibRaw (rawpy) reads it, not Pillow


JPEG = Format("image", "image/jpeg", "jpg", "JPEG")
PNG = Format("image", "image/png", "png", "PNG")
GIF = Format("image", "image/gif", "gif", "GIF")
WEBP = Format("image", "image/webp", "webp", "WEBP")
BMP = Format("image", "image/bmp", "bmp", "BMP")
TIFF = Format("image", "image/tiff", "tif", "TIFF")
HEIC = Format("image", "image/heic", "heic", "HEIF")
HEIF = Format("image", "image/heif", "heif", "HEIF")
MP4 = Format("video", "video/mp4", "mp4")
MOV = Format("video", "video/quicktime", "mov")
WEBM = Format("video", "video/webm", "webm")
MKV = Format("video", "video/x-matroska", "mkv")
M4V = Format("video", "video/x-m4v", "m4v")
THREE_GP = Format("video", "video/3gpp", "3gp")
THREE_G2 = Format("video", "video/3gpp2", "3g2")
AVI = Format("video", "video/x-msvideo", "avi")
MPEG = Format("video", "video/mpeg", "mpg")  # MPEG-1/2 program streams: .mpg, .mpeg, .vob
PDF = Format("pdf", "application/pdf", "pdf")
# Camera RAW photos: TIFF-shaped files, told apart by what their first directory holds.
DNG = Format("image", "image/x-adobe-dng", "dng", raw=True)
CR2 = Format("image", "image/x-canon-cr2", "cr2", raw=True)
NEF = Format("image", "image/x-nikon-nef", "nef", raw=True)
ARW = Format("image", "image/x-sony-arw", "arw", raw=True)

ALL = (JPEG, PNG, GIF, WEBP, BMP, TIFF, HEIC, HEIF, MP4, MOV, WEBM, MKV, M4V, THREE_GP, THREE_G2,
       AVI, MPEG, PDF, DNG, CR2, NEF, ARW)
# Derived files the server writes itself (frames, thumbnails).
_DERIVED = {"jpeg": "image/jpeg"}
_MIME_BY_EXT = {f.ext: f.mime for f in ALL} | _DERIVED

# ISO base media file brands (the `ftyp` box). HEIF stills vs. video containers.
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"}
_HEIF_BRANDS = {b"mif1", b"msf1"}
_MOV_BRANDS = {b"qt  "}
# Top-level atoms an old QuickTime file may start with instead of `ftyp`.
_MOV_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


def mime_for_ext(ext: str) -> str:
    """Content-Type of a blob the server named; unknown extensions are opaque bytes."""
    return _MIME_BY_EXT.get(ext.lower(), "application/octet-stream")


def _iso_bmff(head: bytes) -> Format | None:
    if head[4:8] != b"ftyp":
        return MOV if head[4:8] in _MOV_ATOMS else None
    size = int.from_bytes(head[0:4], "big")
    major = head[8:12]
    brands = {major} | {head[i:i + 4] for i in range(16, min(size, len(head)), 4)}
    if major in _HEIC_BRANDS or (major in _HEIF_BRANDS and brands & _HEIC_BRANDS):
        return HEIC
    if major in _HEIF_BRANDS:
        return HEIF
    if major in _MOV_BRANDS:
        return MOV
    if major == b"avif" or major == b"avis":
        return None  # AVIF is not among the supported formats
    if major.startswith(b"M4V"):  # M4V , M4VH, M4VP: iTunes video
        return M4V
    if major.startswith(b"3gp") or major.startswith(b"3ge") or major.startswith(b"3gg"):
        return THREE_GP
    if major.startswith(b"3g2"):
        return THREE_G2
    # isom, iso2..iso9, mp41, mp42, avc1, dash, f4v, mmp4 ...: MPEG-4 video.
    return MP4


_DNG_VERSION = 50706  # the TIFF tag every DNG carries
_MAKE = 271


def _tiff_raw(head: bytes) -> Format | None:
    """Which camera RAW a TIFF-shaped file is, from its header and first directory (IFD0), or
    None for a plain TIFF."""
    if head[8:10] == b"CR":  # Canon CR2: "CR", version 2, right after the TIFF header
        return CR2
    order: Literal["little", "big"] = "little" if head[:2] == b"II" else "big"
    offset = int.from_bytes(head[4:8], order)
    if offset < 8 or offset + 2 > len(head):
        return None
    count = int.from_bytes(head[offset:offset + 2], order)
    make = b""
    for i in range(min(count, 200)):
        entry = head[offset + 2 + 12 * i:offset + 14 + 12 * i]
        if len(entry) < 12:
            break
        tag = int.from_bytes(entry[0:2], order)
        if tag == _DNG_VERSION:
            return DNG
        if tag == _MAKE:
            length = int.from_bytes(entry[4:8], order)
            at = int.from_bytes(entry[8:12], order)
            make = entry[8:8 + length] if length <= 4 else head[at:at + min(length, 64)]
    make = make.upper()
    if make.startswith(b"NIKON"):
        return NEF
    if make.startswith(b"SONY"):
        return ARW
    return None


def is_raw_head(head: bytes) -> bool:
    """Whether a file starting with `head` is a camera RAW photo."""
    found = sniff(head)
    return found is not None and found.raw


def _matroska(head: bytes) -> Format | None:
    # EBML header; the DocType element (0x4282) says "webm" or "matroska".
    doc = head[:64]
    if b"\x42\x82\x84webm" in doc or b"webm" in doc:
        return WEBM
    if b"matroska" in doc:
        return MKV
    return None


def sniff(head: bytes) -> Format | None:
    """The format of a file from its first bytes (at least SNIFF_BYTES when the file has them),
    or None when it is not one the library takes."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return AVI
    # An MPEG program stream's pack header (.mpg, .vob), or an MPEG-1/2 video elementary
    # stream's sequence header (some .mpg files are only that).
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return MPEG
    if head[:2] == b"BM" and len(head) >= 26 and head[14:18] in (
            b"\x0c\x00\x00\x00", b"(\x00\x00\x00", b"@\x00\x00\x00", b"l\x00\x00\x00",
            b"|\x00\x00\x00"):
        return BMP  # "BM" plus a known DIB header size, so text starting with "BM" is not one
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return _tiff_raw(head) or TIFF
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return _matroska(head)
    if len(head) >= 12:
        iso = _iso_bmff(head)
        if iso is not None:
            return iso
    # PDF readers accept the header anywhere in the first KiB.
    if b"%PDF-" in head[:1024]:
        return PDF
    return None
