"""The file formats the library accepts, recognised from their first bytes.

A file's type is decided here from its content, never from its name or the declared content
type; the decoders (uploads/probe.py) then confirm it. The blob store names files with the
extension chosen here, and blob responses take their Content-Type from it.
"""

from __future__ import annotations

from dataclasses import dataclass

# How many leading bytes `sniff` needs to decide.
SNIFF_BYTES = 4096


@dataclass(frozen=True)
class Format:
    kind: str  # the media type on the wire: image, video or pdf
    mime: str
    ext: str
    pillow: str | None = None  # Pillow's name for the format (images only)


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
PDF = Format("pdf", "application/pdf", "pdf")

ALL = (JPEG, PNG, GIF, WEBP, BMP, TIFF, HEIC, HEIF, MP4, MOV, WEBM, MKV, PDF)
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
    # isom, iso2..iso9, mp41, mp42, avc1, dash, M4V, 3gp4/5/6, f4v, mmp4 ...: MPEG-4 video.
    return MP4


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
    if head[:2] == b"BM" and len(head) >= 26 and head[14:18] in (
            b"\x0c\x00\x00\x00", b"(\x00\x00\x00", b"@\x00\x00\x00", b"l\x00\x00\x00",
            b"|\x00\x00\x00"):
        return BMP  # "BM" plus a known DIB header size, so text starting with "BM" is not one
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return TIFF
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
