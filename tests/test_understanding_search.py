"""Understanding without a GPU, end to end with the real offline models and PostgreSQL:
broader label words, people, colours and EXIF date, camera and place make real photos findable,
and the adaptive cutoff returns nothing for queries that match nothing."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests import media_files
from tests.jobs import drain, pipeline
from tests.library import Library


def with_exif(data: bytes, make: str, model: str, when: str,
              gps: tuple[float, float] | None = None) -> bytes:
    """The photo re-saved with camera, date and (optionally) GPS EXIF, as a phone writes it."""
    image = Image.open(io.BytesIO(data))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = make, model  # Make, Model
    exif.get_ifd(0x8769)[0x9003] = when  # DateTimeOriginal
    if gps:
        lat, lon = gps
        exif.get_ifd(0x8825).update({
            1: "N" if lat >= 0 else "S", 2: _dms(abs(lat)),
            3: "E" if lon >= 0 else "W", 4: _dms(abs(lon))})
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


def _dms(value: float) -> tuple[float, float, float]:
    d = int(value)
    m = int((value - d) * 60)
    return (float(d), float(m), round((value - d - m / 60) * 3600, 2))


@pytest.fixture(scope="module")
def library(shared_client, make_member_module, settings, database, tmp_path_factory):  # type: ignore[no-untyped-def]
    lib = Library(shared_client, make_member_module())
    ids = {
        "astronaut": lib.upload(with_exif(media_files.photo("astronaut"), "Canon", "Canon EOS 5D",
                                          "2019:06:14 10:00:00", gps=(48.8584, 2.2945)),
                                "IMG_0001.jpg")["id"],
        "cat": lib.upload(with_exif(media_files.photo("chelsea"), "NIKON CORPORATION",
                                    "NIKON D750", "2016:03:02 09:00:00"), "IMG_0002.jpg")["id"],
        "coffee": lib.upload(media_files.photo("coffee"), "IMG_0003.jpg")["id"],
        "rocket": lib.upload(media_files.photo("rocket"), "IMG_0004.jpg")["id"],
    }
    drain(pipeline(settings, database, models_dir=tmp_path_factory.mktemp("models")),
          list(ids.values()))
    return lib, ids


def found(lib: Library, q: str) -> list[str]:
    return [m["id"] for m in lib.browse(q=q, limit=20)["media"]]


def test_broader_words_from_wordnet_find_the_cat_by_animal(library) -> None:  # type: ignore[no-untyped-def]
    lib, ids = library
    cat = lib.media(ids["cat"])
    [frame] = cat["frames"]
    assert frame["metadata"]["labels"][0]["name"] in ("tabby", "tiger cat", "Egyptian cat")
    assert {"cat", "animal", "mammal"} <= set(frame["metadata"]["words"])
    assert "a cat" in frame["captions"][0]["text"]
    assert found(lib, "animal")[0] == ids["cat"]
    assert ids["cat"] in found(lib, "mammal")


def test_faces_give_people_words(library) -> None:  # type: ignore[no-untyped-def]
    lib, ids = library
    [frame] = lib.media(ids["astronaut"])["frames"]
    assert frame["captions"][0]["text"].startswith("A photo of a person")
    assert found(lib, "a person")[0] == ids["astronaut"]


def test_colour_words_are_searchable(library) -> None:  # type: ignore[no-untyped-def]
    lib, ids = library
    [frame] = lib.media(ids["rocket"])["frames"]
    assert "blue" in frame["metadata"]["words"]
    assert found(lib, "blue")[0] == ids["rocket"]


def test_exif_camera_year_and_place_are_searchable(library) -> None:  # type: ignore[no-untyped-def]
    lib, ids = library
    taken = lib.media(ids["astronaut"])["metadata"]["taken"]
    assert taken["year"] == "2019" and taken["camera"] == "Canon EOS 5D"
    assert "Paris" in taken["place"] and taken["place"].endswith("France")
    assert found(lib, "photos from Paris") == [ids["astronaut"]]
    assert found(lib, "taken with a Canon") == [ids["astronaut"]]
    assert found(lib, "in 2016") == [ids["cat"]]
    assert lib.media(ids["cat"])["metadata"]["taken"]["camera"] == "NIKON D750"
    assert "taken" not in lib.media(ids["coffee"])["metadata"]


@pytest.mark.parametrize("q", ["pizza", "snowboarding in the alps", "a wedding cake",
                               "tax form"])
def test_a_query_that_matches_nothing_returns_nothing(library, q) -> None:  # type: ignore[no-untyped-def]
    lib, _ = library
    assert found(lib, q) == []


@pytest.mark.parametrize(("q", "name"), [("kitty", "cat"), ("espresso", "coffee"),
                                         ("space launch", "rocket"), ("a hot drink", "coffee")])
def test_true_positives_survive_the_cutoff(library, q, name) -> None:  # type: ignore[no-untyped-def]
    lib, ids = library
    assert found(lib, q)[:1] == [ids[name]]
