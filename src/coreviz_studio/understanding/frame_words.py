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


def read(image: Image.Image, found: list[Found], labels: list[Label]
         ) -> tuple[list[str], dict[str, Any]]:
    """The frame's words (broader words of the labels, people, colour and light words:
    ["finch", "bird", "animal", "a person", "blue", "white", "bright"]) and the options that
    make `compose` say them; no words and plain captions when switched off."""
    if not enabled():
        return [], {"understanding": False}
    return from_colours(colours.read(image), found, labels)


def from_colours(reading: tuple[list[str], list[str]], found: list[Found], labels: list[Label]
                 ) -> tuple[list[str], dict[str, Any]]:
    """`read` with the image's colours already read (`colours.read`): the caption step reads
    them while the frame image is loaded for the other steps."""
    if not enabled():
        return [], {"understanding": False}
    out = hypernyms.label_words(labels)
    crowd = people.phrase(people.count(found))
    if crowd:
        out += [crowd, "people" if crowd != "a person" else "person"]
    names, lights = reading
    out += names + lights
    return list(dict.fromkeys(out)), {"understanding": True,
                                      "scene": colours.sentence(names, lights)}
