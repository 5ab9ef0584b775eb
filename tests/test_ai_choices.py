"""ai/choices.py: how options are read and scored from the offline evidence (the photos' end to
end cases are in tests/test_ai_endpoints.py)."""

from __future__ import annotations

import pytest

from coreviz_studio.ai import choices
from coreviz_studio.ai.types import Box, Found, Label

BOX = Box(0, 0, 100, 100)


def found(kind: str, label: str, confidence: float) -> Found:
    return Found(kind, label, confidence, BOX, "test")


def scores(options: list[str], evidence: list[Found], labels: list[Label]) -> dict[str, float]:
    return {s.option: s.score for s in choices.score_options(options, evidence, labels, 0.5)}


@pytest.mark.parametrize(("option", "label"), [
    ("a red sports car", "convertible"), ("Cars", "cab"), ("an automobile", "jeep"),
    ("kittens", "tabby"), ("a pet", "Siamese cat"), ("animals", "golden retriever"),
    ("a vehicle", "school bus"), ("people", "scuba diver"), ("the dog", "beagle"),
])
def test_options_are_read_by_their_words_and_wordnet_kinds(option: str, label: str) -> None:
    assert scores([option], [], [Label(label, 0.6)]) == {option: 0.6}


def test_what_an_option_does_not_name_scores_nothing() -> None:
    evidence = [Label("go-kart", 0.5), Label("lion", 0.4)]
    assert scores(["car", "cat", "person"], [], evidence) == {"car": 0, "cat": 0, "person": 0}
    assert scores(["a vehicle", "feline"], [], evidence) == {"a vehicle": 0.5, "feline": 0.4}


def test_detections_faces_and_labels_combine() -> None:
    evidence = [found("object", "person", 0.6), found("face", "face", 0.5),
                found("object", "dog", 0.3)]  # below the detector's stated minimum
    got = scores(["person", "dog", "cat"], evidence, [Label("tabby", 0.2), Label("lynx", 0.1)])
    assert got == {"person": pytest.approx(1 - 0.4 * 0.5), "dog": 0, "cat": 0.2}
    [person] = choices.score_options(["person"], evidence, [], 0.5)
    assert person.evidence == "the detector found person (0.60); 1 face found (0.50)"
