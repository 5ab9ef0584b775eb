"""Choosing among a caller's options (`/api/ai/tag` with `options`) from what the offline models
found, and saying how sure that is.

The evidence is the detector's objects (COCO names), the faces (a face means a person) and the
classifier's ImageNet labels. ImageNet's classes are WordNet synsets; `_IMAGENET` gives the
coarse kinds (and their hypernyms) of the ones people ask about, by their index in
imagenet_labels.txt: "tabby" is a cat, a cat is a feline, an animal and a pet. An option is read
as one of those kinds by its words ("a kitten" -> cat, "people" -> person), or names a label or
a detection exactly ("tabby", "sports car").

An option's score is how likely the evidence makes it, 0..1: the classifier's probabilities of
every class of that kind add up; a detector's and the face model's confidences combine with it
as independent signals (1 - product of the misses).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from coreviz_studio.ai.types import Found, Label

# kind -> its hypernyms (what an option naming the hypernym also accepts)
_HYPERNYMS: dict[str, tuple[str, ...]] = {
    "person": (),
    "dog": ("canine", "mammal", "animal", "pet"), "cat": ("feline", "mammal", "animal", "pet"),
    "wolf": ("canine", "mammal", "animal"), "wild dog": ("canine", "mammal", "animal"),
    "big cat": ("feline", "mammal", "animal"), "bear": ("mammal", "animal"),
    "primate": ("mammal", "animal"), "elephant": ("mammal", "animal"),
    "horse": ("mammal", "animal"), "cow": ("mammal", "animal"), "sheep": ("mammal", "animal"),
    "zebra": ("mammal", "animal"), "giraffe": ("mammal", "animal"),
    "rabbit": ("mammal", "animal", "pet"), "rodent": ("mammal", "animal"),
    "mammal": ("animal",), "bird": ("animal",), "fish": ("animal",),
    "reptile": ("animal",), "insect": ("animal",), "animal": (),
    "car": ("vehicle",), "truck": ("vehicle",), "bus": ("vehicle",), "train": ("vehicle",),
    "motorcycle": ("vehicle",), "bicycle": ("vehicle",), "boat": ("vehicle",),
    "airplane": ("aircraft", "vehicle"), "aircraft": ("vehicle",), "vehicle": (),
    "food": (), "fruit": ("food",),
}
# Words an option may use for a kind (singular; plurals are read too).
_WORDS: dict[str, str] = {
    **{k: k for k in _HYPERNYMS},
    **dict.fromkeys(("people", "human", "man", "men", "woman", "women", "boy", "girl", "child",
                     "children", "kid", "baby", "someone", "face", "portrait", "selfie",
                     "astronaut", "player"), "person"),
    **dict.fromkeys(("puppy", "pup", "hound", "doggy"), "dog"),
    **dict.fromkeys(("kitten", "kitty"), "cat"),
    **dict.fromkeys(("lion", "tiger", "leopard", "cheetah", "jaguar", "cougar"), "big cat"),
    **dict.fromkeys(("monkey", "ape", "gorilla", "chimpanzee"), "primate"),
    **dict.fromkeys(("automobile", "auto"), "car"),
    **dict.fromkeys(("bike",), "bicycle"), **dict.fromkeys(("motorbike", "scooter"),
                                                            "motorcycle"),
    **dict.fromkeys(("ship",), "boat"), **dict.fromkeys(("plane", "jet"), "airplane"),
    **dict.fromkeys(("bug",), "insect"), **dict.fromkeys(("cattle", "ox"), "cow"),
}
_HYPERNYM_WORDS = {h for hs in _HYPERNYMS.values() for h in hs}

# ImageNet index ranges (inclusive) of each kind, in imagenet_labels.txt's order.
_IMAGENET: dict[str, tuple[tuple[int, int], ...]] = {
    "fish": ((0, 6), (389, 397)), "bird": ((7, 24), (80, 100), (127, 146)),
    "reptile": ((33, 68),), "insect": ((300, 326),),
    "dog": ((151, 268),), "wolf": ((269, 272),), "wild dog": ((273, 280),),
    "cat": ((281, 285),), "big cat": ((286, 293),), "bear": ((294, 297), (388, 388)),
    "rabbit": ((330, 332),), "rodent": ((333, 338),), "horse": ((339, 339),),
    "zebra": ((340, 340),), "cow": ((345, 347),), "sheep": ((348, 349),),
    "primate": ((365, 384),), "elephant": ((101, 101), (385, 386)),
    "mammal": ((101, 106), (147, 150), (298, 299), (341, 344), (350, 364), (387, 387)),
    "animal": ((25, 32), (69, 79), (107, 126), (327, 329)),
    "car": ((407, 407), (436, 436), (468, 468), (511, 511), (609, 609), (627, 627),
            (656, 656), (661, 661), (751, 751), (817, 817)),
    "truck": ((555, 555), (569, 569), (675, 675), (717, 717), (734, 734), (864, 864),
              (867, 867)),
    "bus": ((654, 654), (779, 779), (874, 874)),
    "train": ((466, 466), (547, 547), (565, 565), (705, 705), (820, 820), (829, 829)),
    "bicycle": ((444, 444), (671, 671)), "motorcycle": ((665, 665), (670, 670)),
    "boat": ((472, 472), (484, 484), (510, 510), (554, 554), (576, 576), (625, 625),
             (628, 628), (780, 780), (814, 814), (871, 871), (914, 914)),
    "airplane": ((404, 404), (895, 895)), "aircraft": ((405, 405),),
    "vehicle": ((408, 408), (450, 450), (537, 537), (561, 561), (573, 573), (575, 575),
                (586, 586), (603, 603), (612, 612), (690, 690), (757, 757), (802, 802),
                (847, 847), (866, 866), (870, 870), (880, 880)),
    "person": ((981, 983),),
    "fruit": ((948, 957),), "food": ((924, 947), (958, 969)),
}
_COCO_KINDS = {"motorcycle": "motorcycle", "airplane": "airplane", "bus": "bus",
               "train": "train", "truck": "truck", "boat": "boat", "bicycle": "bicycle",
               "car": "car", "person": "person", "bird": "bird", "cat": "cat", "dog": "dog",
               "horse": "horse", "sheep": "sheep", "cow": "cow", "elephant": "elephant",
               "bear": "bear", "zebra": "zebra", "giraffe": "giraffe",
               **dict.fromkeys(("banana", "apple", "orange"), "fruit"),
               **dict.fromkeys(("broccoli", "carrot", "sandwich", "hot dog", "pizza", "donut",
                                "cake"), "food")}
_ARTICLES = re.compile(r"^(?:(?:a|an|the|some|photo|picture|image)\s+(?:of\s+)?)+")
MULTIPLE_MIN = 0.35  # score from which an option is among several chosen (multiple=true)


@dataclass(frozen=True)
class Scored:
    option: str
    score: float  # 0..1: how likely the evidence makes the option
    evidence: str  # what it rests on, for a person ("" when nothing found names it)


@cache
def _label_kinds() -> dict[str, str]:
    """ImageNet label name -> its kind (the first index of a repeated name wins)."""
    text = resources.files("coreviz_studio.ai").joinpath("imagenet_labels.txt").read_text()
    names = text.splitlines()
    kinds: dict[str, str] = {}
    for kind, ranges in _IMAGENET.items():
        for first, last in ranges:
            for index in range(first, last + 1):
                kinds.setdefault(names[index].lower(), kind)
    return kinds


def _normal(text: str) -> str:
    text = re.sub(r"[^\w\s-]", " ", text.lower()).strip()
    return " ".join(_ARTICLES.sub("", text).split())


def _singular(word: str) -> list[str]:
    out = [word]
    if word.endswith("ies"):
        out.append(word[:-3] + "y")
    if word.endswith("es"):
        out.append(word[:-2])
    if word.endswith("s"):
        out.append(word[:-1])
    return out


def _kinds_of(option: str) -> set[str]:
    """The kinds an option names: the whole phrase, else its words from the last (the head of
    an English noun phrase: "a red sports car" -> car)."""
    phrase = _normal(option)
    for candidate in [phrase, *reversed(phrase.split())]:
        for form in _singular(candidate):
            if form in _WORDS:
                return {_WORDS[form]}
            if form in _HYPERNYM_WORDS:
                return {form}
    return set()


def _is_a(kind: str, wanted: set[str]) -> bool:
    return kind in wanted or any(h in wanted for h in _HYPERNYMS.get(kind, ()))


def score_options(options: list[str], found: list[Found], labels: list[Label],
                  object_min: float) -> list[Scored]:
    """Each option's score and evidence, in the options' order."""
    label_kinds = _label_kinds()
    out = []
    for option in options:
        wanted = _kinds_of(option)
        name = _normal(option)
        misses, reasons = 1.0, []
        objects = [f for f in found if f.type == "object" and f.confidence >= object_min
                   and (f.label.lower() == name or _is_a(_COCO_KINDS.get(f.label, ""), wanted))]
        if objects:
            best = max(objects, key=lambda f: f.confidence)
            misses *= 1 - best.confidence
            reasons.append(f"the detector found {best.label} ({best.confidence:.2f})")
        faces = [f for f in found if f.type == "face"]
        if faces and "person" in wanted:
            best = max(faces, key=lambda f: f.confidence)
            misses *= 1 - best.confidence
            reasons.append(f"{len(faces)} face{'s' if len(faces) > 1 else ''} found "
                           f"({best.confidence:.2f})")
        matching = [lb for lb in labels if lb.name.lower() == name
                    or _is_a(label_kinds.get(lb.name.lower(), ""), wanted)]
        if matching:
            misses *= 1 - min(sum(lb.score for lb in matching), 1.0)
            reasons.append("the classifier saw " + ", ".join(
                f"{lb.name} ({lb.score:.2f})" for lb in matching))
        out.append(Scored(option, round(1 - misses, 3), "; ".join(reasons)))
    return out
