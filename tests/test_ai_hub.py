"""`models fetch`: a hub-kind model downloaded once into the models dir, from a local stand-in
for a hub (same URL layout), and refused when it does not load."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import pytest

from coreviz_studio.ai import hub
from coreviz_studio.ai.clip import Clip
from tests.fake_http import serving
from tests.test_ai_clip import (
    CONTEXT,
    DIM,
    MEAN,
    SIZE,
    STD,
    image_graph,
    save,
    text_graph,
    write_tokenizer,
)

TINY = {"clip": hub.HubModel(
    repo="acme/tiny-clip", folder="clip",
    files={"onnx/vision_model.onnx": "image.onnx", "onnx/text_model.onnx": "text.onnx",
           "tokenizer.json": "tokenizer.json"},
    manifest={"name": "tiny-clip", "image_size": SIZE, "mean": MEAN, "std": STD,
              "context_length": CONTEXT, "dim": DIM},
    manifest_name="clip.json")}


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hub_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    repo = tmp_path / "hub" / "acme" / "tiny-clip" / "resolve" / "main"
    (repo / "onnx").mkdir(parents=True)
    save(image_graph(), repo / "onnx" / "vision_model.onnx")
    save(text_graph(), repo / "onnx" / "text_model.onnx")
    write_tokenizer(repo / "tokenizer.json")
    handler = functools.partial(_Quiet, directory=str(tmp_path / "hub"))
    with serving(handler) as url:
        yield url, repo


def _check(directory: Path) -> None:
    clip = Clip.find(directory)
    assert clip is not None
    clip.embed_texts(["a red car"])


def test_fetch_installs_a_loadable_model(hub_root, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, _ = hub_root
    models = tmp_path / "models"
    folder = hub.fetch("clip", models, url, check=_check, catalog=TINY)
    assert sorted(p.name for p in folder.iterdir()) == ["clip.json", "image.onnx", "text.onnx",
                                                        "tokenizer.json"]
    clip = Clip.find(models)
    assert clip is not None and clip.embed_texts(["a photo of a cat"]).shape == (1, DIM)
    assert not list(models.glob(".*"))  # no partial or old folder left


def test_a_missing_file_installs_nothing(hub_root, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, repo = hub_root
    (repo / "tokenizer.json").unlink()
    models = tmp_path / "models"
    with pytest.raises(hub.FetchError, match="answered 404"):
        hub.fetch("clip", models, url, check=_check, catalog=TINY)
    assert Clip.find(models) is None and not list(models.iterdir())


def test_a_model_that_does_not_load_is_removed_and_an_old_one_survives_a_failed_fetch(
        hub_root, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, repo = hub_root
    models = tmp_path / "models"
    hub.fetch("clip", models, url, check=_check, catalog=TINY)
    (repo / "tokenizer.json").unlink()
    with pytest.raises(hub.FetchError):
        hub.fetch("clip", models, url, check=_check, catalog=TINY)
    assert Clip.find(models) is not None  # the installed one is untouched
    write_tokenizer(repo / "tokenizer.json")
    (repo / "onnx" / "text_model.onnx").write_bytes(b"not a model")
    with pytest.raises(hub.FetchError, match="does not load"):
        hub.fetch("clip", models, url, check=_check, catalog=TINY)
    assert Clip.find(models) is not None and not list(models.glob(".*"))


def test_unknown_model_name(tmp_path: Path) -> None:
    with pytest.raises(hub.FetchError, match="unknown model"):
        hub.fetch("dalle", tmp_path, "http://127.0.0.1:9")
