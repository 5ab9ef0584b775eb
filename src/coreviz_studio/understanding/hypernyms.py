"""What an ImageNet label is a kind of, from WordNet: "brambling" -> finch, bird, animal.

The table (`imagenet_hypernyms.tsv`) is generated from WordNet 3.0 by `build_hypernyms.py`.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from coreviz_studio.ai.types import Label

WORDS_MIN_SCORE = 0.15  # labels this sure lend their broader words to the search document
WORDS_LABELS = 3


@cache
def _table() -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    text = resources.files(__package__).joinpath("imagenet_hypernyms.tsv").read_text("utf-8")
    table = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        label, broader, everyday = ([*line.split("\t"), "", ""])[:3]
        table[label] = (tuple(w for w in broader.split(";") if w),
                        tuple(w for w in everyday.split(";") if w))
    return table


def broader(label: str) -> tuple[str, ...]:
    """Every broader word, nearest first (empty for an unknown label)."""
    return _table().get(label, ((), ()))[0]


def everyday(label: str) -> tuple[str, ...]:
    """The nearest broader word and the everyday category, for a caption: finch, bird."""
    return _table().get(label, ((), ()))[1]


def label_words(labels: list[Label]) -> list[str]:
    """The broader words of the labels sure enough to count, for the search document."""
    words: list[str] = []
    for label in labels[:WORDS_LABELS]:
        if label.score >= WORDS_MIN_SCORE:
            words += [w for w in broader(label.name) if w not in words]
    return words
