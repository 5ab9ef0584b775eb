"""Search with the real models: hybrid `q`, filters and pages, organization-wide search,
find-similar on a face, clusters, and hostile queries."""

from __future__ import annotations

import io
import shutil

import pytest
from PIL import Image, ImageOps

from tests import media_files
from tests.jobs import drain, pipeline
from tests.library import Library
from tests.shared_models import DETECTOR


def _flipped(data: bytes) -> bytes:
    out = io.BytesIO()
    ImageOps.mirror(Image.open(io.BytesIO(data))).save(out, "JPEG", quality=90)
    return out.getvalue()


@pytest.fixture(scope="module")
def world(shared_client, make_member_module, settings, database, tmp_path_factory):  # type: ignore[no-untyped-def]
    models_dir = tmp_path_factory.mktemp("models")
    if DETECTOR.exists():
        (models_dir / "objects").mkdir()
        shutil.copy(DETECTOR, models_dir / "objects" / DETECTOR.name)
    lib = Library(shared_client, make_member_module())
    trip = lib.folder("Trip")
    astronaut = media_files.photo("astronaut")
    ids = {
        "astronaut": lib.upload(astronaut, "IMG_0001.jpg")["id"],
        "astronaut2": lib.upload(_flipped(astronaut), "IMG_0002.jpg", path=trip["path"])["id"],
        "cat": lib.upload(media_files.photo("chelsea"), "IMG_0003.jpg", path=trip["path"])["id"],
        "coffee": lib.upload(media_files.photo("coffee"), "IMG_0004.jpg")["id"],
        "rocket": lib.upload(media_files.photo("rocket"), "IMG_0005.jpg")["id"],
        "invoice": lib.upload(media_files.printed_text(["INVOICE 2024", "Total due 58"]),
                              "scan.png")["id"],
    }
    other = Library(shared_client, make_member_module(), name="Elsewhere")
    other_cat = other.upload(media_files.photo("chelsea"), "secret-cat.jpg")["id"]
    drain(pipeline(settings, database, models_dir=models_dir),
          [*ids.values(), other_cat])
    return lib, ids, other, other_cat


def _search(lib: Library, **params):  # type: ignore[no-untyped-def]
    return lib.browse(**params)


def _names(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [m["name"] for m in page["media"]]


@pytest.mark.parametrize(("query", "expected"), [
    ("kitten", "cat"),  # a synonym: no word of it is in the cat's caption or labels
    ("espresso", "coffee"),
    ("invoice", "invoice"),  # words printed in the picture
    ("invoce", "invoice"),  # a typo
    ("space shuttle launch", "rocket"),
])
def test_the_best_match_comes_first(world, query: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    lib, ids, _, _ = world
    page = _search(lib, q=query)
    assert page["media"], query
    assert page["media"][0]["id"] == ids[expected], [
        (m["name"], m["_score"]) for m in page["media"]]
    scores = [m["_score"] for m in page["media"]]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)


def test_filters_and_pages_apply_to_scored_results(world) -> None:  # type: ignore[no-untyped-def]
    lib, ids, _, _ = world
    everything = _search(lib, q="photo", limit=100)
    total = everything["pagination"]["total"]
    assert total >= 5 and total == len(everything["media"])
    page = _search(lib, q="photo", limit=2, offset=1)
    assert [m["id"] for m in page["media"]] == [m["id"] for m in everything["media"][1:3]]
    assert page["pagination"]["total"] == total and page["pagination"]["hasMore"] is True
    trip = lib.client.get(f"/api/media/{ids['cat']}", headers=lib.headers).json()["media"]
    folder_path = trip["path"].rsplit(".", 1)[0]
    inside = _search(lib, q="kitten", path=folder_path)
    assert {m["id"] for m in inside["media"]} <= {ids["cat"], ids["astronaut2"]}
    assert _search(lib, q="kitten", type="video")["media"] == []
    tagged = lib.client.post(f"/api/media/{ids['coffee']}/tags", headers=lib.headers,
                             json={"label": "Drink", "value": "morning"})
    assert tagged.status_code in (200, 201)
    only = _search(lib, q="photo", tagFilters='{"Drink": ["morning"]}')
    assert [m["id"] for m in only["media"]] == [ids["coffee"]]
    assert _search(lib, q="morning")["media"][0]["id"] == ids["coffee"]  # tag values count


def test_organization_wide_search(world) -> None:  # type: ignore[no-untyped-def]
    lib, ids, other, other_cat = world
    r = lib.client.get("/api/search", headers=lib.headers,
                       params={"q": "kitten", "organizationId": str(lib.member.org_id),
                               "limit": 5})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert results[0]["media"]["id"] == ids["cat"]
    assert set(results[0]) >= {"media", "blob", "objects", "rank", "captions"}
    assert results[0]["captions"][0]["text"]
    assert other_cat not in {h["media"]["id"] for h in results}
    foreign = lib.client.get("/api/search", headers=lib.headers,
                             params={"q": "kitten", "organizationId": str(other.member.org_id)})
    assert foreign.status_code == 404


def test_find_similar_face_and_clusters(world) -> None:  # type: ignore[no-untyped-def]
    lib, ids, other, _ = world
    face = next(o for o in lib.media(ids["astronaut"])["frames"][0]["objects"]
                if o["type"] == "face")
    page = _search(lib, similarToObjectId=face["id"], similarToObjectModel="faces")
    assert page["media"][0]["id"] == ids["astronaut2"], _names(page)
    assert page["media"][0]["_score"] > 0.9
    # The same person is one cluster; naming it makes both photos findable by the name.
    twin = next(o for o in lib.media(ids["astronaut2"])["frames"][0]["objects"]
                if o["type"] == "face")
    assert face["clusterId"] and face["clusterId"] == twin["clusterId"]
    listed = lib.client.get("/api/clusters", headers=lib.headers, params={"kind": "face"}).json()
    mine = next(c for c in listed["clusters"] if c["id"] == face["clusterId"])
    assert mine["memberCount"] == 2 and mine["cover"]["thumbnailBlob"]
    named = lib.client.patch(f"/api/clusters/{face['clusterId']}", headers=lib.headers,
                             json={"name": "Eileen Collins"})
    assert named.status_code == 200 and named.json()["cluster"]["name"] == "Eileen Collins"
    found = {m["id"] for m in _search(lib, q="Eileen Collins")["media"][:2]}
    assert found == {ids["astronaut"], ids["astronaut2"]}
    in_cluster = lib.browse(clusterId=face["clusterId"])
    assert {m["id"] for m in in_cluster["media"]} == {ids["astronaut"], ids["astronaut2"]}
    # Another organization sees none of it.
    assert lib.client.get(f"/api/clusters/{face['clusterId']}",
                          headers=other.headers).status_code == 404
    assert lib.client.get(f"/api/dataset/{other.id}/media", headers=other.headers,
                          params={"similarToObjectId": face["id"]}).status_code == 404


def test_a_clusters_media_across_the_organization(world) -> None:  # type: ignore[no-untyped-def]
    lib, ids, other, _ = world
    face = next(o for o in lib.media(ids["astronaut"])["frames"][0]["objects"]
                if o["type"] == "face")
    cluster = face["clusterId"]
    r = lib.client.get(f"/api/clusters/{cluster}/media", headers=lib.headers)
    assert r.status_code == 200, r.text
    page = r.json()
    assert {m["id"] for m in page["media"]} == {ids["astronaut"], ids["astronaut2"]}
    assert page["pagination"] == {"total": 2, "limit": 50, "offset": 0, "hasMore": False}
    assert all(m["thumbnail"] for m in page["media"])
    newest = [m["id"] for m in page["media"]]
    first = lib.client.get(f"/api/clusters/{cluster}/media", headers=lib.headers,
                           params={"limit": 1, "offset": 1}).json()
    assert [m["id"] for m in first["media"]] == newest[1:] and not first["pagination"]["hasMore"]
    # The cover carries its frame's size, so a client can crop the face out of the thumbnail.
    cover = lib.client.get(f"/api/clusters/{cluster}", headers=lib.headers).json()["cluster"]
    frame = lib.media(cover["cover"]["mediaId"])["frames"][0]
    assert (cover["cover"]["frameWidth"], cover["cover"]["frameHeight"]) == (
        frame["width"], frame["height"])
    # A key limited to another collection does not see this collection's person at all.
    elsewhere = lib.client.post(f"/api/organization/{lib.member.org_id}/datasets",
                                headers=lib.headers, json={"name": "Empty"}).json()["id"]
    key = lib.client.post("/api/auth/api-key/create", headers=lib.headers,
                          json={"name": "one", "collections": [elsewhere]}).json()["key"]
    scoped = lib.client.get(f"/api/clusters/{cluster}/media", headers={"x-api-key": key})
    assert scoped.status_code == 404, scoped.text
    # Another organization: not found; bad paging: a 400 with a message.
    assert lib.client.get(f"/api/clusters/{cluster}/media",
                          headers=other.headers).status_code == 404
    for bad in ({"limit": "1001"}, {"offset": "-1"}, {"limit": "x"}):
        r = lib.client.get(f"/api/clusters/{cluster}/media", headers=lib.headers, params=bad)
        assert r.status_code == 400 and r.json()["message"], r.text


def test_similar_refusals(world) -> None:  # type: ignore[no-untyped-def]
    lib, ids, _, _ = world
    text_line = next(o for o in lib.media(ids["invoice"])["frames"][0]["objects"]
                     if o["type"] == "text")
    r = lib.client.get(f"/api/dataset/{lib.id}/media", headers=lib.headers,
                       params={"similarToObjectId": text_line["id"]})
    assert r.status_code == 422 and "no embedding" in r.json()["message"]
    assert "similarToObjectModel=image" in r.json()["message"]  # what to do instead
    image_like = _search(lib, similarToObjectId=text_line["id"], similarToObjectModel="image")
    assert image_like["pagination"]["total"] >= 1


def test_every_similarity_model_the_sdk_names_gets_a_clear_answer(world) -> None:  # type: ignore[no-untyped-def]
    """The official SDK documents faces, objects and shoeprints (README, findSimilar)."""
    lib, ids, _, _ = world
    objects = lib.media(ids["astronaut"])["frames"][0]["objects"]
    face = next(o for o in objects if o["type"] == "face")
    assert _search(lib, similarToObjectId=face["id"], similarToObjectModel="faces")["media"]
    for url, params in ((f"/api/dataset/{lib.id}/media", {}),
                        ("/api/search", {"organizationId": str(lib.member.org_id)})):
        r = lib.client.get(url, headers=lib.headers, params={
            **params, "similarToObjectId": face["id"], "similarToObjectModel": "shoeprints"})
        assert r.status_code == 422, r.text
        message = r.json()["message"]
        assert "'shoeprints' is not a similarity model" in message
        assert all(name in message for name in ("objects (", "faces (", "image ("))
        assert "This install produces: faces, image" in message, message
    r = lib.client.get(f"/api/dataset/{lib.id}/media", headers=lib.headers, params={
        "similarToObjectId": face["id"], "similarToObjectModel": "objects"})
    assert r.status_code == 422, r.text
    assert "this id is a face: use similarToObjectModel=faces" in r.json()["message"]
    thing = next((o for m in ids.values() for f in lib.media(m)["frames"]
                  for o in f["objects"] if o["type"] == "object"), None)
    if thing is not None:  # with the object detector installed (tests/test_ai_detector.py)
        r = lib.client.get(f"/api/dataset/{lib.id}/media", headers=lib.headers, params={
            "similarToObjectId": thing["id"], "similarToObjectModel": "faces"})
        assert r.status_code == 422, r.text
        assert "use similarToObjectModel=objects" in r.json()["message"]


@pytest.mark.parametrize("query", ["' OR 1=1--", "%", "_", "\\", "\"\"\"", "a:*|!(b", "x" * 4000,
                                   "猫", "🐈", "&|!<->", "kitten %_ \\ ' \""])
def test_hostile_queries_are_harmless(world, query: str) -> None:  # type: ignore[no-untyped-def]
    lib, _, _, other_cat = world
    r = lib.client.get(f"/api/dataset/{lib.id}/media", headers=lib.headers, params={"q": query})
    assert r.status_code == 200, r.text
    assert other_cat not in {m["id"] for m in r.json()["media"]}
    r = lib.client.get("/api/search", headers=lib.headers, params={"q": query})
    assert r.status_code == 200, r.text
    assert other_cat not in {h["media"]["id"] for h in r.json()["results"]}


def test_nul_is_a_400(world) -> None:  # type: ignore[no-untyped-def]
    lib, _, _, _ = world
    assert lib.client.get(f"/api/dataset/{lib.id}/media", headers=lib.headers,
                          params={"q": "a\x00b"}).status_code == 400
    assert lib.client.get("/api/search", headers=lib.headers,
                          params={"q": "a\x00b"}).status_code == 400


def test_words_in_very_many_items_only_rerank(world, database) -> None:  # type: ignore[no-untyped-def]
    import uuid as uuid_

    from coreviz_studio.search import scoring

    lib, _, _, _ = world
    scope = scoring.Scope(lib.member.org_id, uuid_.UUID(lib.id))
    with database.system_sessions() as s:
        everyone = s.execute(scoring.hybrid("photo", [], scope, 500, 0.15)).all()
        # Over the cap, a word only re-ranks vector candidates: with none, nothing is left.
        broad = s.execute(scoring.hybrid("photo", [], scope, 500, 0.15, text_cap=2)).all()
    assert len(everyone) >= 5 and broad == []


def test_organization_wide_search_names_the_frame_and_finds_similar(world) -> None:  # type: ignore[no-untyped-def]
    lib, ids, other, other_cat = world
    org = str(lib.member.org_id)
    hit = lib.client.get("/api/search", headers=lib.headers,
                         params={"q": "kitten", "organizationId": org}).json()["results"][0]
    assert hit["media"]["id"] == ids["cat"] and hit["media"]["datasetId"] == str(lib.id)
    frame = lib.media(ids["cat"])["frames"][0]
    assert hit["frameId"] == frame["id"]
    assert hit["matchedFrame"] == {"id": frame["id"], "timestamp": "0", "endTimestamp": None,
                                   "pageNumber": None, "thumbnailBlob": frame["thumbnailBlob"]}
    assert frame["thumbnailBlob"]
    in_collection = lib.browse(q="kitten")["media"][0]
    assert in_collection["matchedFrame"] == hit["matchedFrame"]
    face = next(o for o in lib.media(ids["astronaut"])["frames"][0]["objects"]
                if o["type"] == "face")
    similar = lib.client.get("/api/search", headers=lib.headers, params={
        "similarToObjectId": face["id"], "similarToObjectModel": "faces", "q": "ignored"})
    assert similar.status_code == 200, similar.text
    results = similar.json()["results"]
    assert results[0]["media"]["id"] == ids["astronaut2"] and results[0]["rank"] > 0.9
    assert other_cat not in {h["media"]["id"] for h in results}
    # Another organization's object is as missing as one never made; a bad id is a 400.
    assert lib.client.get("/api/search", headers=other.headers,
                          params={"similarToObjectId": face["id"]}).status_code == 404
    bad = lib.client.get("/api/search", headers=lib.headers,
                         params={"similarToObjectId": "nope"})
    assert bad.status_code in (400, 422) and "error" in bad.json()


def test_organization_wide_search_costs_the_same_queries_whatever_its_limit(world) -> None:  # type: ignore[no-untyped-def]
    """The hits' frames, objects and captions come in fixed batches, not one set per hit: at
    most two more queries for six hits than for one (the batches for hits that matched no
    frame), where three per hit would be fifteen."""
    from sqlalchemy import Engine, event

    lib = world[0]
    counts = {}
    for limit in (1, 6):
        statements: list[str] = []

        def record(conn, cursor, statement, *args, into=statements):  # type: ignore[no-untyped-def]
            into.append(statement)

        event.listen(Engine, "before_cursor_execute", record)
        try:
            r = lib.client.get("/api/search", headers=lib.headers,
                               params={"q": "photo", "limit": limit})
        finally:
            event.remove(Engine, "before_cursor_execute", record)
        assert r.status_code == 200, r.text
        assert len(r.json()["results"]) == limit  # six items match
        counts[limit] = len(statements)
    assert counts[6] <= counts[1] + 2


def test_a_query_asked_again_is_not_embedded_again(world, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from coreviz_studio.ai.registry import models_for

    lib = world[0]
    text_model = models_for(settings).text
    assert text_model is not None
    calls: list[list[str]] = []
    real = text_model.embed

    def counting(texts):  # type: ignore[no-untyped-def]
        calls.append(list(texts))
        return real(texts)

    monkeypatch.setattr(text_model, "embed", counting)
    first = lib.browse(q="a cat asked twice", limit=2)
    again = lib.browse(q="a cat asked twice", limit=2, offset=0)
    other = lib.browse(q="a rocket asked once", limit=2)
    assert calls == [["a cat asked twice"], ["a rocket asked once"]]
    assert [m["id"] for m in first["media"]] == [m["id"] for m in again["media"]]
    assert other["media"]
