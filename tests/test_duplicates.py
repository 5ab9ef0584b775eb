"""Duplicates (docs/duplicates.md): the same file uploaded twice is reported at upload
(`duplicateOf`, multipart and tus); near duplicates group at /api/dataset/{id}/duplicates."""

from __future__ import annotations

import io
import uuid

import numpy as np
import pytest
from PIL import Image

from coreviz_studio.duplicates.service import MIN_COSINE, _confirmed
from coreviz_studio.pipeline import fingerprint
from tests import media_files
from tests.jobs import drain, pipeline
from tests.library import Library
from tests.tus_client import Tus


@pytest.fixture
def lib(client, make_member) -> Library:  # type: ignore[no-untyped-def]
    return Library(client, make_member())


def _copy(photo: bytes, scale: float = 0.6, quality: int = 60) -> bytes:
    """The photo resized and re-encoded: other bytes, the same picture."""
    img = Image.open(io.BytesIO(photo))
    out = io.BytesIO()
    img.resize((int(img.width * scale), int(img.height * scale))).save(out, "JPEG",
                                                                       quality=quality)
    return out.getvalue()


def _groups(lib: Library, **params: object) -> dict:  # type: ignore[type-arg]
    r = lib.client.get(f"/api/dataset/{lib.id}/duplicates", headers=lib.headers,
                       params=params)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_the_same_file_twice_says_which_item_it_duplicates(lib: Library) -> None:
    photo = media_files.photo("astronaut")
    first = lib.upload_raw(photo, "a.jpg").json()
    assert first["duplicateOf"] is None
    second = lib.upload_raw(photo, "again.jpg").json()
    assert second["duplicateOf"] == first["mediaId"]
    assert second["mediaId"] != first["mediaId"]  # stored all the same
    assert first["mediaId"] in second["message"]
    # Other bytes of the same picture are not an exact duplicate.
    assert lib.upload_raw(_copy(photo), "small.jpg").json()["duplicateOf"] is None


def test_a_trashed_item_or_another_collection_is_no_duplicate(lib: Library, client,  # type: ignore[no-untyped-def]
                                                              make_member) -> None:
    photo = media_files.photo("coffee")
    first = lib.upload_raw(photo, "a.jpg").json()
    assert client.delete(f"/api/media/{first['mediaId']}", headers=lib.headers).status_code \
        == 200
    assert lib.upload_raw(photo, "b.jpg").json()["duplicateOf"] is None
    other = Library(client, lib.member, name="Elsewhere")
    assert other.upload_raw(photo, "c.jpg").json()["duplicateOf"] is None
    stranger = Library(client, make_member())  # another organization, the same bytes
    assert stranger.upload_raw(photo, "d.jpg").json()["duplicateOf"] is None


def test_a_tus_upload_reports_the_duplicate_too(lib: Library, client) -> None:  # type: ignore[no-untyped-def]
    photo = media_files.photo("chelsea")
    first = lib.upload_raw(photo, "cat.jpg").json()
    tus = Tus(client, lib)
    url = tus.new(len(photo), filename="cat-again.jpg")
    r = tus.patch(url, 0, photo)
    assert r.status_code == 204, r.text
    assert r.headers["coreviz-duplicate-of"] == first["mediaId"]
    answer = client.get(url, headers=lib.headers).json()
    assert answer["duplicateOf"] == first["mediaId"]
    assert answer["mediaId"] == r.headers["coreviz-media-id"] != first["mediaId"]


def test_a_resized_copy_groups_with_its_original_and_another_photo_does_not(  # type: ignore[no-untyped-def]
        lib: Library, settings, database) -> None:
    astronaut, coffee = media_files.photo("astronaut"), media_files.photo("coffee")
    original = lib.upload(astronaut, "astronaut.jpg")["id"]
    copy = lib.upload(_copy(astronaut), "astronaut-small.jpg")["id"]
    same = lib.upload(astronaut, "astronaut-again.jpg")["id"]
    other = lib.upload(coffee, "coffee.jpg")["id"]
    lone = lib.upload(media_files.photo("rocket"), "rocket.jpg")["id"]
    # Before processing only the exact duplicate is known: no hash yet.
    [exact] = _groups(lib)["groups"]
    assert exact == {"mediaIds": [original, same], "similarity": 1.0, "kind": "exact"}
    drain(pipeline(settings, database, models="none"), [original, copy, same, other, lone])
    answer = _groups(lib)
    [group] = answer["groups"]  # coffee and the rocket are in no group
    assert group["mediaIds"] == [original, copy, same]  # oldest first
    assert group["kind"] == "near" and 0.9 <= group["similarity"] <= 1.0
    assert answer["pagination"] == {"total": 1, "limit": 20, "offset": 0, "hasMore": False}
    assert other not in group["mediaIds"] and lone not in group["mediaIds"]


def test_videos_that_open_on_black_group_by_what_follows(lib: Library, settings,  # type: ignore[no-untyped-def]
                                                        database, tmp_path) -> None:
    ids = [lib.upload(media_files.photo_video(tmp_path / f"{i}.mp4", photo, size), f"{i}.mp4")["id"]
           for i, (photo, size) in enumerate([("astronaut", (320, 240)),
                                              ("astronaut", (160, 120)),
                                              ("coffee", (320, 240))])]
    drain(pipeline(settings, database, models="none"), ids)
    [group] = _groups(lib)["groups"]
    assert group["mediaIds"] == ids[:2]  # the astronaut at two sizes; not the coffee


def test_the_embedding_confirms_a_near_duplicate(lib: Library, settings, database) -> None:  # type: ignore[no-untyped-def]
    astronaut = media_files.photo("astronaut")
    original = lib.upload(astronaut, "astronaut.jpg")["id"]
    copy = lib.upload(_copy(astronaut, scale=0.5, quality=50), "copy.jpg")["id"]
    other = lib.upload(media_files.photo("chelsea"), "cat.jpg")["id"]
    drain(pipeline(settings, database, models="labels"), [original, copy, other])
    [group] = _groups(lib)["groups"]
    assert group["mediaIds"] == [original, copy] and group["kind"] == "near"
    assert MIN_COSINE <= group["similarity"] < 1.0  # the embeddings' cosine, not the hash's


def test_an_embedding_that_disagrees_vetoes_the_hash() -> None:
    a, b = np.zeros(8), np.zeros(8)
    a[0], b[1] = 1.0, 1.0
    assert _confirmed({"m": a}, {"m": b}, bits=2) is None
    assert _confirmed({"m": a}, {"m": a}, bits=2) == 1.0
    assert _confirmed({"m": a}, {"other": b}, bits=2) == round(1 - 2 / 64, 4)  # no shared model
    assert _confirmed(None, None, bits=0) == 1.0


def test_groups_are_paged_largest_first(lib: Library, settings, database) -> None:  # type: ignore[no-untyped-def]
    ids = []
    for name, copies in (("coffee", 1), ("astronaut", 2), ("rocket", 1)):
        photo = media_files.photo(name)
        ids.append(lib.upload(photo, f"{name}.jpg")["id"])
        for i in range(copies):
            ids.append(lib.upload(_copy(photo, scale=0.5 + 0.1 * i), f"{name}-{i}.jpg")["id"])
    drain(pipeline(settings, database, models="none"), ids)
    first = _groups(lib, limit=1)
    assert first["pagination"] == {"total": 3, "limit": 1, "offset": 0, "hasMore": True}
    assert len(first["groups"][0]["mediaIds"]) == 3  # the astronaut and its two copies
    rest = _groups(lib, limit=5, offset=1)
    assert [len(g["mediaIds"]) for g in rest["groups"]] == [2, 2]
    assert rest["groups"][0]["mediaIds"][0] == ids[0]  # coffee was uploaded before the rocket
    assert rest["pagination"]["hasMore"] is False


def test_bad_paging_and_other_collections_are_refused(lib: Library, client,  # type: ignore[no-untyped-def]
                                                      make_member) -> None:
    assert client.get(f"/api/dataset/{lib.id}/duplicates", headers=lib.headers,
                      params={"limit": 0}).status_code == 400
    assert client.get(f"/api/dataset/{lib.id}/duplicates", headers=lib.headers,
                      params={"colour": "red"}).status_code == 400
    stranger = Library(client, make_member())
    r = client.get(f"/api/dataset/{lib.id}/duplicates", headers=stranger.headers)
    assert r.status_code == 404 and r.json()["message"] == "Dataset not found"
    r = client.get(f"/api/dataset/{uuid.uuid4()}/duplicates", headers=lib.headers)
    assert r.status_code == 404


def test_the_hash_survives_resizing_and_tells_photos_apart() -> None:
    astronaut = Image.open(io.BytesIO(media_files.photo("astronaut")))
    small = Image.open(io.BytesIO(_copy(media_files.photo("astronaut"), 0.4, 40)))
    coffee = Image.open(io.BytesIO(media_files.photo("coffee")))
    h = fingerprint.of_image(astronaut)
    assert fingerprint.distance(h, fingerprint.of_image(small)) <= 4
    assert fingerprint.distance(h, fingerprint.of_image(coffee)) >= 16
    assert -(1 << 63) <= h < 1 << 63  # fits PostgreSQL's BIGINT


def test_the_backfill_hashes_items_processed_before_hashes_existed(  # type: ignore[no-untyped-def]
        lib: Library, settings, database) -> None:
    from sqlalchemy import select, update
    from typer.testing import CliRunner

    from coreviz_studio.cli import app as cli
    from coreviz_studio.db.tables import Media

    astronaut = media_files.photo("astronaut")
    ids = [lib.upload(astronaut, "a.jpg")["id"], lib.upload(_copy(astronaut), "b.jpg")["id"]]
    waiting = lib.upload(media_files.photo("coffee"), "unprocessed.jpg")["id"]
    drain(pipeline(settings, database, models="none"), ids)
    mine = Media.id.in_([uuid.UUID(i) for i in [*ids, waiting]])
    with database.system_sessions.begin() as s:
        made = dict(s.execute(select(Media.id, Media.perceptual_hash).where(mine)).all())
        s.execute(update(Media).where(mine).values(perceptual_hash=None))  # as before 0011
    assert _groups(lib)["groups"] == []

    runner = CliRunner()
    where = ["--data-dir", str(settings.data_dir)]  # the blob store the server wrote to
    done = runner.invoke(cli, ["fingerprints", "--collection", lib.id, *where])
    assert done.exit_code == 0 and "hashed 2 media" in done.output, done.output
    with database.system_sessions() as s:
        now = dict(s.execute(select(Media.id, Media.perceptual_hash).where(mine)).all())
    assert now == made  # the same picture as processing hashes, so the same hash
    assert now[uuid.UUID(waiting)] is None  # not processed: nothing to hash yet
    [group] = _groups(lib)["groups"]
    assert group["mediaIds"] == ids
    again = runner.invoke(cli, ["fingerprints", "--collection", lib.id, *where])
    assert "hashed 0 media" in again.output, again.output
    refused = runner.invoke(cli, ["fingerprints", "--collection", "nope"])
    assert refused.exit_code == 1 and "dataset" in refused.output
