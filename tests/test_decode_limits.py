"""Decoding untrusted files: the limits hold and a runaway decoder only fails its own job."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from coreviz_studio.pipeline.decode import BadMedia, Limits
from coreviz_studio.pipeline.sandbox import DecodeFailed, decode_isolated
from tests import media_files


def _run(kind: str, data: bytes, tmp_path: Path, limits: Limits = Limits(),
         timeout: float = 60, memory_mb: int = 2048):  # type: ignore[no-untyped-def]
    src = tmp_path / "input"
    src.write_bytes(data)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    return decode_isolated(kind, src, out, limits, timeout=timeout, memory_mb=memory_mb)


def test_memory_cap_fails_the_file_not_the_worker(tmp_path: Path) -> None:
    gray = media_files.flat_png((10000, 10000), "RGB", (128, 128, 128))  # 300 MB once decoded
    with pytest.raises(DecodeFailed, match="more than 256 MB"):
        _run("image", gray, tmp_path, memory_mb=256)
    # The same file decodes under a cap that leaves room, in a fresh child.
    assert _run("image", gray, tmp_path, memory_mb=2048).frames[0].width == 2048


def test_time_cap(tmp_path: Path) -> None:
    video = media_files.video_with_cut(tmp_path / "v.mp4", seconds=6.0)
    with pytest.raises(DecodeFailed, match=r"longer than 0\.01 s"):
        _run("video", video, tmp_path, timeout=0.01)


def test_pixel_limit_and_bad_files_are_final(tmp_path: Path) -> None:
    with pytest.raises(BadMedia, match="more pixels than the limit"):
        _run("image", media_files.image("PNG", (400, 400)), tmp_path,
             Limits(max_pixels=100_000))
    with pytest.raises(BadMedia, match="cannot be"):
        _run("video", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200, tmp_path)
    with pytest.raises(BadMedia, match="PDF cannot be opened"):
        _run("pdf", b"%PDF-1.4\n%%EOF garbage", tmp_path)


def test_video_frames_are_capped_and_keep_the_cut(tmp_path: Path) -> None:
    video = media_files.video_with_cut(tmp_path / "v.mp4", cut_at=6.0, seconds=12.0)
    decoded = _run("video", video, tmp_path, Limits(video_max_frames=5, video_interval=1.0))
    stamps = [f.timestamp for f in decoded.frames]
    assert len(stamps) <= 5 and 6.0 in stamps, stamps
    assert decoded.frames[-1].end_timestamp == pytest.approx(12.0, abs=0.2)
    short = _run("video", video, tmp_path, Limits(video_max_seconds=3.0))
    assert max(f.timestamp for f in short.frames) <= 3.0
    assert any("first 3 s" in note for note in short.notes)


def test_pdf_page_limit(tmp_path: Path) -> None:
    decoded = _run("pdf", media_files.pdf_with_text(["one", "two", "three"]), tmp_path,
                   Limits(pdf_max_pages=2))
    assert [f.page_number for f in decoded.frames] == [1, 2]
    assert decoded.page_count == 3 and "first 2 pages" in decoded.notes[0]


def test_transparent_png_is_laid_on_white(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.new("RGBA", (40, 40), (0, 0, 0, 0)).save(buf, "PNG")
    decoded = _run("image", buf.getvalue(), tmp_path)
    with Image.open(tmp_path / "out" / decoded.frames[0].image) as frame:
        assert frame.mode == "RGB" and min(frame.getpixel((20, 20))) > 240


def test_a_truncated_video_says_where_it_stops(tmp_path: Path) -> None:
    import av

    whole = tmp_path / "whole.mp4"
    media_files.video_with_cut(whole, cut_at=2.0, seconds=4.0)
    moved = tmp_path / "faststart.mp4"  # index first, so that a cut file still opens
    with av.open(str(whole)) as src, av.open(str(moved), "w", options={
            "movflags": "faststart"}) as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    data = moved.read_bytes()
    decoded = _run("video", data[: int(len(data) * 0.6)], tmp_path)
    assert any("stops decoding" in note for note in decoded.notes), decoded.notes
    assert decoded.frames[-1].end_timestamp is not None
    assert decoded.frames[-1].end_timestamp < 4.0


def test_big_jpegs_decode_at_a_fraction_within_the_frame_size(tmp_path: Path) -> None:
    from coreviz_studio.pipeline.decode import DRAFT_FILL, decode

    def frame_of(size: tuple[int, int], name: str) -> tuple[int, int]:
        src = tmp_path / f"{name}.jpg"
        image = Image.new("RGB", size, (200, 120, 40))
        image.paste((20, 40, 220), (0, 0, size[0] // 2, size[1] // 3))
        image.save(src, "JPEG", quality=90)
        out = tmp_path / name
        out.mkdir()
        decoded = decode("image", src, out, Limits())
        frame = decoded.frames[0]
        with Image.open(out / frame.image) as saved:
            assert saved.size == (frame.width, frame.height)
            # The picture is the same picture: the blue corner is where it was.
            corner = saved.getpixel((frame.width // 8, frame.height // 8))
            assert isinstance(corner, tuple) and corner[2] > 180
        return frame.width, frame.height

    assert frame_of((4000, 3000), "phone") == (2000, 1500)  # decoded at 1/2, not resized
    assert frame_of((8064, 6048), "48mp") == (2016, 1512)  # at 1/4
    assert frame_of((3000, 2000), "mid") == (2048, 1365)  # 1/2 would be under 7/8: resized
    assert frame_of((1200, 800), "small")[0] == 1200
    assert DRAFT_FILL * Limits().frame_max_side <= 2000


def test_the_fork_server_preload_loads_every_decoder_once() -> None:
    """What the sandbox's fork server imports before forking (sandbox_preload): the decoders,
    so a child does not import them per file, and a frozen heap."""
    import subprocess
    import sys

    probe = ("import gc, sys; import coreviz_studio.pipeline.sandbox_preload; "
             "from PIL import Image; "
             "print(sorted(m for m in ('av', 'pypdfium2', 'rawpy', 'pillow_heif', 'numpy.ma') "
             "if m in sys.modules), '.heic' in Image.registered_extensions(), "
             "gc.get_freeze_count() > 0)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "['av', 'numpy.ma', 'pillow_heif', 'pypdfium2', 'rawpy'] True True", out
