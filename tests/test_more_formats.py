"""AVI, MPEG program streams, 3GP, M4V, animated GIF and WebP, and camera RAW (DNG): real files
made here, uploaded under lying names, processed into frames (docs/formats.md)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from coreviz_studio.formats import ARW, CR2, DNG, NEF, TIFF, sniff
from tests import media_files
from tests.jobs import drain, pipeline
from tests.library import Library

# What the server makes of each: its type and the extension it names the blob with.
_SEEN_AS = {"avi": ("video/x-msvideo", "avi"), "avi-mjpeg": ("video/x-msvideo", "avi"),
            "mpeg-ps": ("video/mpeg", "mpg"), "vob": ("video/mpeg", "mpg"),
            "3gp": ("video/3gpp", "3gp"), "m4v": ("video/x-m4v", "m4v")}


@pytest.fixture
def lib(client, make_member) -> Library:  # type: ignore[no-untyped-def]
    return Library(client, make_member())


@pytest.mark.parametrize("kind", sorted(media_files.MORE_VIDEOS))
def test_more_video_containers_are_processed(lib: Library, settings, database,  # type: ignore[no-untyped-def]
                                             tmp_path: Path, kind: str) -> None:
    _, _, ext, size, _, _ = media_files.MORE_VIDEOS[kind]
    data = media_files.more_video(tmp_path / f"v.{ext}", kind, seconds=3.0)
    media = lib.upload(data, "holiday.jpg")  # the name lies: the content decides
    mime, stored_ext = _SEEN_AS[kind]
    assert media["type"] == "video" and media["mimeType"] == mime
    assert media["blob"].endswith(f".{stored_ext}")
    assert (media["width"], media["height"]) == size
    assert media["duration"] and media["duration"] > 1.0
    drain(pipeline(settings, database, models="none", video_frame_interval_seconds=1.0),
          [media["id"]])
    media = lib.media(media["id"])
    assert media["metadata"]["processing"]["status"] == "ready", media["metadata"]
    frames = media["frames"]
    # The first frame at the start of the video's own clock (MPEG streams start at ~0.5 s),
    # then at least one per second.
    assert frames[0]["timestamp"] == "0"
    assert len(frames) >= 3
    assert all(f["width"] == size[0] and f["thumbnailBlob"] for f in frames)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])  # PNG: an APNG
def test_an_animation_is_an_image_with_frames_at_its_cuts(lib: Library, settings, database,  # type: ignore[no-untyped-def]
                                                         fmt: str) -> None:
    data = media_files.animation(fmt, cut_at=2.0, seconds=4.0)
    media = lib.upload(data, "clip.mp4")
    assert media["type"] == "image" and media["mimeType"] == f"image/{fmt.lower()}"
    drain(pipeline(settings, database, models="none"), [media["id"]])
    media = lib.media(media["id"])
    assert media["metadata"]["processing"]["status"] == "ready"
    stamps = [(f["timestamp"], f["endTimestamp"]) for f in media["frames"]]
    assert stamps == [("0", "2"), ("2", "4")], stamps  # the first frame, then the hard cut
    assert media["duration"] == pytest.approx(4.0)
    assert media["frames"][1]["metadata"].get("sceneCut") is True


def test_a_still_gif_stays_one_frame(lib: Library, settings, database) -> None:  # type: ignore[no-untyped-def]
    media = lib.upload(media_files.image("GIF", size=(80, 30)), "still.gif")
    drain(pipeline(settings, database, models="none"), [media["id"]])
    media = lib.media(media["id"])
    assert len(media["frames"]) == 1 and media["duration"] is None


def test_a_dng_is_developed_into_a_photo(lib: Library, settings, database, client) -> None:  # type: ignore[no-untyped-def]
    original = Image.open(_photo_file("astronaut"))
    data = media_files.dng(original)
    media = lib.upload(data, "IMG_0001.jpg")
    assert media["type"] == "image" and media["mimeType"] == "image/x-adobe-dng"
    assert media["blob"].endswith(".dng")
    assert (media["width"], media["height"]) == original.size
    assert media["exif"]["tags"]["Make"] == "CoreViz"
    assert media["sha256"] == hashlib.sha256(data).hexdigest()
    drain(pipeline(settings, database, models="none"), [media["id"]])
    media = lib.media(media["id"])
    assert media["metadata"]["processing"]["status"] == "ready", media["metadata"]
    [frame] = media["frames"]
    assert (frame["width"], frame["height"]) == original.size
    developed = _picture(client, frame["blob"])
    # Developed, not a grey mosaic: the same picture (LibRaw brightens it), colour kept.
    ours = np.asarray(developed.convert("L").resize((32, 32)), dtype=float)
    theirs = np.asarray(original.convert("L").resize((32, 32)), dtype=float)
    assert np.corrcoef(ours.ravel(), theirs.ravel())[0, 1] > 0.9
    r, _, b = (np.asarray(c, dtype=float).mean() for c in developed.split())
    assert r > b + 15  # the astronaut's orange suit and skin: red well above blue


def test_a_raw_libraw_cannot_read_is_refused_and_leaves_nothing(lib: Library) -> None:
    # A TIFF directory that claims DNG (DNGVersion) and holds nothing else.
    entry = (50706).to_bytes(2, "little") + (1).to_bytes(2, "little") + \
        (4).to_bytes(4, "little") + bytes([1, 4, 0, 0])
    data = b"II*\x00\x08\x00\x00\x00" + (1).to_bytes(2, "little") + entry + b"\x00" * 64
    r = lib.upload_raw(data, "empty.dng")
    assert r.status_code == 422, r.text
    assert "not a readable RAW photo" in r.json()["message"]
    assert lib.browse()["pagination"]["total"] == 0


def test_a_cut_raw_fails_processing_with_a_reason(lib: Library, settings, database) -> None:  # type: ignore[no-untyped-def]
    data = media_files.dng(Image.new("RGB", (640, 480), "red"))
    media = lib.upload(data[:4096], "cut.dng")  # its directory, without most pixels
    assert media["mimeType"] == "image/x-adobe-dng"
    drain(pipeline(settings, database, models="none"), [media["id"]])
    state = lib.media(media["id"])["metadata"]["processing"]
    assert state["status"] == "failed" and "RAW" in state["error"], state


def test_raw_kinds_are_told_from_plain_tiff() -> None:
    def tiff(make: bytes, magic: bytes = b"II*\x00\x08\x00\x00\x00") -> bytes:
        # IFD0 with one entry: Make (ASCII), its value after the directory.
        value_at = 8 + 2 + 12 + 4
        entry = (271).to_bytes(2, "little") + (2).to_bytes(2, "little") + \
            len(make).to_bytes(4, "little") + value_at.to_bytes(4, "little")
        return magic + (1).to_bytes(2, "little") + entry + b"\x00" * 4 + make

    assert sniff(tiff(b"NIKON CORPORATION\x00")) is NEF
    assert sniff(tiff(b"SONY\x00")) is ARW
    assert sniff(tiff(b"Canon\x00")) is TIFF  # a plain TIFF from a Canon scanner
    assert sniff(b"II*\x00\x10\x00\x00\x00CR\x02\x00" + b"\x00" * 64) is CR2
    assert sniff(media_files.dng(Image.new("RGB", (8, 8)))[:4096]) is DNG
    assert sniff(media_files.image("TIFF")) is TIFF


def _photo_file(name: str):  # type: ignore[no-untyped-def]
    import io

    return io.BytesIO(media_files.photo(name))


def _picture(client, url: str) -> Image.Image:  # type: ignore[no-untyped-def]
    import io

    r = client.get("/" + url.split("/", 3)[3])
    assert r.status_code == 200
    return Image.open(io.BytesIO(r.content)).convert("RGB")
