"""What `describe`, `tag` and `edit` send and save: the image file as a data URL, shrunk to
the official SDK's box when larger (upright: the copy has no EXIF to say so), anything else as
it is; an edit's result decoded from a data URL or bare base64."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from PIL import Image

from coreviz_studio.commands.ai import DESCRIBE_BOX, data_url, edited_bytes
from tests import media_files


def _decoded(url: str) -> tuple[str, bytes]:
    head, body = url.split(",", 1)
    return head, base64.b64decode(body)


def test_a_large_image_is_shrunk_upright_and_a_small_one_goes_as_it_is(tmp_path: Path) -> None:
    sideways = tmp_path / "phone.jpg"  # stored 1600x1200, shown 1200x1600 (orientation 6)
    sideways.write_bytes(media_files.image(size=(1600, 1200), orientation=6))
    head, data = _decoded(data_url(sideways, DESCRIBE_BOX))
    assert head == "data:image/jpeg;base64"
    assert Image.open(io.BytesIO(data)).size == (384, 512)

    small = tmp_path / "icon.png"
    small.write_bytes(media_files.image("PNG", size=(64, 48)))
    assert _decoded(data_url(small, DESCRIBE_BOX)) == ("data:image/png;base64",
                                                        small.read_bytes())


def test_a_file_that_is_no_image_goes_as_it_is(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"not a picture")
    assert _decoded(data_url(notes, DESCRIBE_BOX)) == ("data:text/plain;base64",
                                                        b"not a picture")


def test_an_edits_result_is_decoded_from_a_data_url_or_bare_base64() -> None:
    png = media_files.image("PNG")
    encoded = base64.b64encode(png).decode()
    assert edited_bytes(f"data:image/png;base64,{encoded}") == png
    assert edited_bytes(encoded) == png
