"""A caption composed from what the models found, for when no captioning model is configured.

It reads like a sentence and says only what was detected, so it is searchable and honest:
"A photo of 2 people and a motorcycle; it looks like a moped. 1 face. The text reads
"INVOICE 2024"." Its `model` names the models it was made from.
"""

from __future__ import annotations

from collections import Counter

from coreviz_studio.ai.types import Found, Label
from coreviz_studio.understanding import hypernyms, people

COMPOSED = "composed"
_LABEL_MIN = 0.3  # an ImageNet guess below this is too unsure for a sentence
STATED_OBJECT_MIN = 0.5  # detections below this stay as objects but are not stated
_TEXT_MAX = 160
_IRREGULAR = {"person": "people", "mouse": "mice", "knife": "knives", "bus": "buses",
              "skis": "skis", "scissors": "scissors", "sheep": "sheep", "glass": "glasses",
              "couch": "couches", "sandwich": "sandwiches", "bench": "benches",
              "toothbrush": "toothbrushes", "wine glass": "wine glasses", "dish": "dishes"}
_OPENING = {"image": "A photo", "video": "A video frame", "pdf": "A document page"}


def caption_model(models: list[str]) -> str:
    """`composed(model, model, ...)`: the caption was written from these models' findings."""
    return f"{COMPOSED}({', '.join(models)})" if models else COMPOSED


def compose(kind: str, found: list[Found], labels: list[Label], text: str | None,
            scene: str = "", understanding: bool = True) -> str:
    """`understanding`: also say what the label is a kind of and how many people there are
    (docs/ai.md); `scene`: a sentence on colours and light to end with."""
    objects = Counter(f.label for f in found
                      if f.type == "object" and f.confidence >= STATED_OBJECT_MIN)
    faces = sum(1 for f in found if f.type == "face")
    guess = labels[0].name if labels and labels[0].score >= _LABEL_MIN else None
    sentence = _OPENING.get(kind, "A picture")
    stated = [_count(label, n) for label, n in objects.most_common(6)]
    crowd = people.phrase(people.count(found)) if understanding else None
    if crowd:
        stated = [crowd] + [s for s, (label, _) in zip(stated, objects.most_common(6),
                                                       strict=True) if label != "person"]
    if guess and understanding and hypernyms.everyday(guess):
        guess += " (" + ", ".join(_article(w) for w in hypernyms.everyday(guess)) + ")"
    if stated:
        sentence += " of " + _join(stated)
        if guess:
            sentence += f"; it looks like {_article(guess)}"
    elif guess:
        sentence += f" of what looks like {_article(guess)}"
    sentences = [sentence + "."]
    if faces:
        sentences.append(f"{faces} face{'s' if faces > 1 else ''}.")
    words = " ".join((text or "").split())
    if words:
        if len(words) > _TEXT_MAX:
            words = words[: _TEXT_MAX].rsplit(" ", 1)[0] + "…"
        sentences.append(f'The text reads "{words}".')
    if scene:
        sentences.append(scene)
    return " ".join(sentences)


def _count(label: str, n: int) -> str:
    if n == 1:
        return _article(label)
    plural = _IRREGULAR.get(label) or (label + ("es" if label.endswith(("s", "x", "ch", "sh"))
                                                else "s"))
    return f"{n} {plural}"


def _article(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
