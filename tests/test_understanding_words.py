"""The words understanding/ adds, and its cutoff, as pure functions on real data: the WordNet
table, GeoNames' cities, EXIF written by Pillow and read by the upload probe, real pixels."""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from coreviz_studio.ai.types import Box, Found, Label
from coreviz_studio.formats import JPEG
from coreviz_studio.pipeline.caption import compose
from coreviz_studio.understanding import colours, cutoff, hypernyms, people, places, query_words
from coreviz_studio.understanding import taken as taken_words
from coreviz_studio.uploads.probe import probe
from tests import media_files
from tests.test_understanding_search import with_exif


def test_imagenet_labels_get_their_wordnet_hypernyms() -> None:
    assert {"finch", "bird"} <= set(hypernyms.broader("brambling"))
    assert {"apple", "fruit"} <= set(hypernyms.broader("Granny Smith"))
    assert hypernyms.everyday("brambling") == ("finch", "bird")
    assert "entity" not in hypernyms.broader("brambling")  # too abstract to help
    assert hypernyms.broader("crane") == ()  # a bird and a machine: nothing both are
    assert hypernyms.broader("no such label") == ()


def test_only_sure_labels_lend_words() -> None:
    words = hypernyms.label_words([Label("Granny Smith", 0.6), Label("brambling", 0.05)])
    assert "fruit" in words and "bird" not in words


def _face() -> Found:
    return Found(type="face", label="face", confidence=0.9, box=Box(0, 0, 10, 10), model="f")


def test_people_words_from_faces_and_person_detections() -> None:
    assert people.phrase(people.count([_face()])) == "a person"
    assert people.phrase(people.count([_face(), _face()])) == "two people"
    assert people.phrase(people.count([_face()] * 3)) == "a group of three people"
    persons = [Found(type="object", label="person", confidence=0.8, box=Box(0, 0, 5, 5),
                     model="d")] * 4
    assert people.phrase(people.count([*persons, _face()])) == "a group of four people"
    assert people.phrase(0) is None


def test_the_caption_says_people_and_kinds() -> None:
    text = compose("image", [_face()] * 3, [Label("brambling", 0.8)], None)
    assert text.startswith("A photo of a group of three people; it looks like a brambling "
                           "(a finch, a bird).")
    assert "3 faces." in text
    plain = compose("image", [_face()] * 3, [Label("brambling", 0.8)], None,
                    understanding=False)
    assert "people" not in plain and "finch" not in plain


def test_colour_and_light_words_from_real_pixels() -> None:
    rocket = Image.open(io.BytesIO(media_files.photo("rocket")))
    assert colours.colours(rocket)[0] == "blue"
    camera = Image.open(io.BytesIO(media_files.photo("camera")))
    assert "black and white" in colours.light(camera)
    night = Image.fromarray(np.full((40, 40, 3), 12, dtype=np.uint8))
    assert colours.colours(night) == ["black"] and "dark" in colours.light(night)


def test_gps_to_the_nearest_place() -> None:
    eiffel = places.nearest(48.8584, 2.2945)
    assert eiffel is not None and "Paris" in eiffel.name() and eiffel.country == "France"
    assert places.nearest(0.0, -30.0) is None  # mid-Atlantic
    assert places.nearest(91.0, 0.0) is None


def test_exif_date_camera_and_place_through_the_upload_probe() -> None:
    data = with_exif(media_files.photo("coffee"), "NIKON CORPORATION", "NIKON D750",
                     "2019:06:14 10:00:00", gps=(-33.8688, 151.2093))
    exif = probe(io.BytesIO(data), JPEG, 100_000_000).exif
    facts = taken_words.facts(exif)
    assert facts["year"] == "2019" and facts["month"] == "June"
    assert facts["camera"] == "NIKON D750"
    assert "Sydney" in facts["place"] and facts["place"].endswith("Australia")
    assert taken_words.sentence(facts).startswith("Taken in June 2019 with a NIKON D750 near ")
    assert taken_words.facts({"tags": {"DateTime": "0000:00:00 00:00:00"}}) == {}
    assert taken_words.facts(None) == {}


def test_medium_words_are_not_searched_for() -> None:
    assert query_words.content(["photos", "from", "paris"]) == ["from", "paris"]
    assert query_words.content(["photo"]) == ["photo"]
    assert query_words.for_trigrams("a cow in the photo") == "cow the"
    assert query_words.for_trigrams("in 2016") == ""  # a year is matched exactly or not at all


def _row(sim: float | None, words: float | None) -> SimpleNamespace:
    return SimpleNamespace(sim=sim, words=words)


def test_the_cutoff_keeps_what_stands_out_and_drops_a_flat_field() -> None:
    rng = np.random.default_rng(7)
    flat = [_row(float(s), None) for s in rng.normal(0.2, 0.03, 30)]
    assert cutoff.relevant(flat) == []  # nothing stands out: a true negative
    standout = _row(0.45, None)
    assert cutoff.relevant([*flat, standout]) == [standout]
    winner = _row(0.32, None)  # under the floor, but alone far above a flat field
    assert cutoff.relevant([*flat, winner]) == [winner]
    typo = _row(0.1, 0.5)
    exact = _row(0.1, 0.7)
    assert cutoff.relevant([*flat, typo, exact]) == [typo, exact]
    everyone = [_row(0.2, 0.7) for _ in range(20)]  # a word every item has tells nothing
    assert cutoff.relevant(everyone) == []


@pytest.mark.parametrize("sims", [[0.2], [0.25, 0.1]])
def test_a_small_collection_needs_the_floor(sims: list[float]) -> None:
    assert cutoff.relevant([_row(s, None) for s in sims]) == []


def test_the_cutoff_stays_out_of_clip_queries() -> None:
    text = SimpleNamespace(kind="text")
    assert cutoff.applies([text]) and cutoff.applies([])
    assert not cutoff.applies([text, SimpleNamespace(kind="image")])
