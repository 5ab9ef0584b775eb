"""OCR with the real PP-OCRv4 models bundled in rapidocr-onnxruntime."""

from __future__ import annotations

import logging

import pytest
from PIL import Image, ImageDraw, ImageFont

pytest.importorskip("rapidocr_onnxruntime")

from coreviz_studio.ai.ocr import TextReader
from coreviz_studio.ai.types import Found

LINES = {"INVOICE 2024": (40, 40), "Hello World": (40, 160)}


@pytest.fixture(scope="module")
def reader() -> TextReader:
    model = TextReader(threads=2)
    model.load()
    return model


def squash(text: str) -> str:
    # The recognizer sometimes drops the space between words ("INVOICE2024").
    return "".join(text.split()).lower()


def render(
    background: tuple[int, ...] = (255, 255, 255), mode: str = "RGB"
) -> tuple[Image.Image, dict[str, tuple[int, int, int, int]]]:
    """The LINES drawn in black, 48 px; and each line's ink rectangle."""
    image = Image.new(mode, (800, 300), background)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=48)
    ink = (0, 0, 0, 255) if mode == "RGBA" else (0, 0, 0)
    where: dict[str, tuple[int, int, int, int]] = {}
    for text, xy in LINES.items():
        draw.text(xy, text, fill=ink, font=font)
        x0, y0, x1, y1 = draw.textbbox(xy, text, font=font)
        where[text] = (round(x0), round(y0), round(x1), round(y1))
    return image, where


def by_text(found: list[Found]) -> dict[str, Found]:
    return {squash(f.label): f for f in found}


def test_reads_rendered_lines_where_they_were_drawn(reader: TextReader) -> None:
    image, where = render()
    found = reader.read(image)
    assert len(found) == 2
    read = by_text(found)
    for text, (x0, y0, x1, y1) in where.items():
        line = read[squash(text)]
        assert (line.type, line.model) == ("text", "rapidocr-ppocrv4")
        assert line.label == line.label.strip() and line.label
        assert 0.5 <= line.confidence <= 1.0
        box = line.box
        assert box.x >= 0 and box.y >= 0
        assert box.x + box.width <= image.width and box.y + box.height <= image.height
        # The box hugs the drawn ink, give or take a few pixels of padding.
        assert abs(box.x - x0) < 15 and abs(box.y - y0) < 15
        assert abs(box.x + box.width - x1) < 15 and abs(box.y + box.height - y1) < 15
    # Top to bottom.
    assert squash(found[0].label) == "invoice2024"


def test_blank_image_reads_nothing(reader: TextReader) -> None:
    assert reader.read(Image.new("RGB", (640, 480), "white")) == []
    assert reader.read(Image.new("L", (50, 20), 0)) == []
    assert reader.read(Image.new("RGB", (0, 0))) == []


def test_dark_text_on_a_transparent_background_is_read(reader: TextReader) -> None:
    image, _ = render(background=(0, 0, 0, 0), mode="RGBA")
    assert set(by_text(reader.read(image))) == {"invoice2024", "helloworld"}


def test_large_images_come_back_in_full_pixels(reader: TextReader) -> None:
    image, where = render()
    big = image.resize((2400, 900))  # read at 1280 px, boxes scaled back by 3
    read = by_text(reader.read(big))
    x0, y0, _, _ = where["Hello World"]
    line = read["helloworld"]
    assert abs(line.box.x - 3 * x0) < 40 and abs(line.box.y - 3 * y0) < 40


def test_loading_and_reading_print_and_log_nothing(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fresh = TextReader(threads=1)
    image, _ = render()
    assert len(fresh.read(image)) == 2
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert caplog.records == []


class _Counting:
    """Wraps one of the engine's stages and counts its calls."""

    def __init__(self, stage: object) -> None:
        self.stage = stage
        self.calls = 0

    def __call__(self, *args: object, **kwargs: object) -> object:
        self.calls += 1
        return self.stage(*args, **kwargs)  # type: ignore[operator]


def test_text_is_read_only_where_detection_finds_regions(
    reader: TextReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    import skimage.data

    from tests.media_files import printed_text

    engine = reader._engine.get()
    recognizer, classifier = _Counting(engine.text_rec), _Counting(engine.text_cls)
    monkeypatch.setattr(engine, "text_rec", recognizer)
    monkeypatch.setattr(engine, "text_cls", classifier)
    rocket = Image.fromarray(skimage.data.rocket())  # 427 x 640: no text
    assert reader.read(rocket) == []
    assert (recognizer.calls, classifier.calls) == (0, 0)
    # Without the small detection pass the photo reads as empty too, but only after the full
    # detection (and here the recognizer, on a patch of texture).
    ungated = TextReader(threads=2, gate_side=None)
    ungated._engine = reader._engine
    assert ungated.read(rocket) == []
    recognized, classified = recognizer.calls, classifier.calls

    page = Image.open(io.BytesIO(printed_text(["INVOICE 2024", "Total due 58"])))
    big_page = page.resize((2000, 888))  # print still 64 px tall after the gate's copy
    for image in (page, big_page):
        lines = [f.label.upper() for f in reader.read(image)]
        assert any("INVOICE" in line for line in lines), lines
    assert (recognizer.calls, classifier.calls) == (recognized + 2, classified + 2)
