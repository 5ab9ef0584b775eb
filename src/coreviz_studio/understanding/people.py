"""People words from faces and person detections: "a person", "two people", "a group of people"."""

from __future__ import annotations

from coreviz_studio.ai.types import Found

PERSON_MIN = 0.5  # a person detection this sure counts (as the caption's stated objects)
_NUMBERS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def count(found: list[Found]) -> int:
    """How many people: the larger of the faces and the confident person detections (a face
    is seen from the front only; a person from afar may show no face)."""
    faces = sum(1 for f in found if f.type == "face")
    persons = sum(1 for f in found if f.type == "object" and f.label == "person"
                  and f.confidence >= PERSON_MIN)
    return max(faces, persons)


def phrase(n: int) -> str | None:
    """`a person`, `two people`, `a group of five people` (None for nobody)."""
    if n <= 0:
        return None
    if n == 1:
        return "a person"
    if n == 2:
        return "two people"
    return f"a group of {_NUMBERS[n] if n < len(_NUMBERS) else n} people"
