"""The words a frame adds to its search document and caption (switched by
COREVIZ_UNDERSTANDING_WORDS, so a benchmark can compare with and without them)."""

from __future__ import annotations

from typing import Any

from PIL import Image

from coreviz_studio.ai.types import Found, Label
from coreviz_studio.config import get_settings
from coreviz_studio.understanding import colours, hypernyms, people


def enabled() -> bool:
    return get_settings().understanding_words


def words(image: Image.Image, found: list[Found], labels: list[Label]) -> list[str]:
    """Broader words of the labels, people, colour and light words: ["finch", "bird",
    "animal", "a person", "blue", "white", "bright"] (empty when switched off)."""
    if not enabled():
        return []
    out = hypernyms.label_words(labels)
    crowd = people.phrase(people.count(found))
    if crowd:
        out += [crowd, "people" if crowd != "a person" else "person"]
    out += colours.colours(image) + colours.light(image)
    return list(dict.fromkeys(out))


def caption_options(image: Image.Image) -> dict[str, Any]:
    """What `compose` adds when switched on: the scene sentence, the kinds and people."""
    if not enabled():
        return {"understanding": False}
    return {"understanding": True, "scene": colours.sentence(image)}
