"""Faces with the real dlib weights: boxes, 128-d embeddings, same vs different person."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image, ImageOps

pytest.importorskip("dlib")
skdata = pytest.importorskip("skimage.data")

from coreviz_studio.ai.faces import NAME, SAME_PERSON_DISTANCE, Faces  # noqa: E402
from coreviz_studio.ai.types import Found  # noqa: E402


@pytest.fixture(scope="module")
def faces() -> Faces:
    model = Faces()
    model.load()
    return model


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    return Image.fromarray(skdata.astronaut())


@pytest.fixture(scope="module")
def astronaut_face(faces: Faces, astronaut: Image.Image) -> Found:
    found = faces.detect(astronaut)
    assert len(found) == 1
    return found[0]


def distance(a: Found, b: Found) -> float:
    assert a.embedding is not None and b.embedding is not None
    return float(np.linalg.norm(a.embedding - b.embedding))


def test_one_face_in_the_astronaut_photo(astronaut_face: Found, astronaut: Image.Image) -> None:
    face = astronaut_face
    assert (face.type, face.label, face.model) == ("face", "face", "dlib-hog")
    assert 0.39 < face.confidence < 1  # raw HOG scores above 0.5, mapped into 0..1
    box = face.box
    assert box.x >= 0 and box.y >= 0 and box.width > 0 and box.height > 0
    assert box.x + box.width <= astronaut.width and box.y + box.height <= astronaut.height
    cx, cy = box.x + box.width / 2, box.y + box.height / 2
    # Her face is in the upper half, left of centre (about x 175-265, y 75-165).
    assert cy < astronaut.height / 2
    assert 150 < cx < 300 and 60 < cy < 200
    assert 50 < box.width < 200 and 50 < box.height < 200


def test_embedding_is_a_unit_128_vector(astronaut_face: Found) -> None:
    vector = astronaut_face.embedding
    assert vector is not None
    assert vector.shape == (128,) and vector.dtype == np.float32
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
    assert astronaut_face.embedding_model == NAME == "dlib-face-128"


def test_same_face_flipped_or_moved_stays_close(
    faces: Faces, astronaut: Image.Image, astronaut_face: Found
) -> None:
    (flipped,) = faces.detect(ImageOps.mirror(astronaut))
    assert distance(flipped, astronaut_face) < SAME_PERSON_DISTANCE

    # Shrunk and pasted off-centre on a bigger canvas: the box follows, the identity holds.
    canvas = Image.new("RGB", (700, 600), (90, 90, 90))
    canvas.paste(astronaut.resize((460, 460)), (200, 100))
    (moved,) = faces.detect(canvas)
    expected_x = 200 + astronaut_face.box.x * 460 / 512
    expected_y = 100 + astronaut_face.box.y * 460 / 512
    assert abs(moved.box.x - expected_x) < 25 and abs(moved.box.y - expected_y) < 25
    assert distance(moved, astronaut_face) < SAME_PERSON_DISTANCE
    assert distance(moved, astronaut_face) < 0.6


def test_a_different_person_is_far(faces: Faces, astronaut_face: Found) -> None:
    # LFW crops are 25x25 grey faces; enlarged, HOG still finds them.
    lfw = skdata.lfw_subset()
    other = Image.fromarray((lfw[0] * 255).round().astype(np.uint8)).resize(
        (200, 200), Image.Resampling.BICUBIC
    )
    found = faces.detect(other)  # a grey ("L") image is accepted too
    assert len(found) == 1
    assert distance(found[0], astronaut_face) > 0.5
    assert distance(found[0], astronaut_face) > SAME_PERSON_DISTANCE


@pytest.mark.parametrize("name", ["coffee", "rocket", "chelsea"])
def test_no_faces_where_there_are_none(faces: Faces, name: str) -> None:
    assert faces.detect(Image.fromarray(getattr(skdata, name)())) == []


def test_large_images_are_searched_downscaled_with_boxes_in_full_pixels(
    astronaut: Image.Image, astronaut_face: Found
) -> None:
    small_search = Faces(max_side=600)
    (face,) = small_search.detect(astronaut.resize((1024, 1024)))
    assert abs(face.box.x - 2 * astronaut_face.box.x) < 30
    assert abs(face.box.width - 2 * astronaut_face.box.width) < 40
    assert distance(face, astronaut_face) < SAME_PERSON_DISTANCE


def test_concurrent_calls_share_one_instance(faces: Faces, astronaut: Image.Image) -> None:
    results: list[int] = []

    def work() -> None:
        results.append(len(faces.detect(astronaut)))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [1, 1]


def test_empty_image_gives_nothing(faces: Faces) -> None:
    assert faces.detect(Image.new("RGB", (0, 0))) == []


def test_the_small_search_copy_finds_what_the_whole_frame_finds(
    faces: Faces, astronaut: Image.Image, astronaut_face: Found
) -> None:
    # The previous path: HOG over the whole picture (enlarged 2x when small).
    whole = Faces(search_pixels=10**9)
    whole._loaded = faces._loaded
    (before,) = whole.detect(astronaut)
    for a, b in ((before.box.x, astronaut_face.box.x), (before.box.y, astronaut_face.box.y),
                 (before.box.width, astronaut_face.box.width)):
        assert abs(a - b) <= 8  # a few pixels on a 90 px face
    assert distance(before, astronaut_face) < SAME_PERSON_DISTANCE / 2
    # A phone-sized frame is searched at about 640 x 480 and boxed in its own pixels.
    assert faces.search_scale(2048, 2048) == pytest.approx(0.27, abs=0.01)
    (big,) = faces.detect(astronaut.resize((2048, 2048), Image.Resampling.BICUBIC))
    assert abs(big.box.x - 4 * astronaut_face.box.x) < 40
    assert abs(big.box.width - 4 * astronaut_face.box.width) < 50
    assert distance(big, astronaut_face) < SAME_PERSON_DISTANCE
