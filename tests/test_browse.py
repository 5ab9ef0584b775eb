from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, text

from tests import media_files
from tests.library import Library


@pytest.fixture
def lib(client, make_member) -> Library:  # type: ignore[no-untyped-def]
    return Library(client, make_member())


def _set_created(database, media_id: str, when: str) -> None:  # type: ignore[no-untyped-def]
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE media SET created_at = :t WHERE id = :id"),
                     {"t": datetime.fromisoformat(when).replace(tzinfo=UTC), "id": media_id})


def _add_frame(database, media: dict, caption: str, label: str) -> str:  # type: ignore[no-untyped-def]
    """What processing will write: a frame with a caption and a detected object."""
    frame_id = str(uuid.uuid4())
    with database.engine.begin() as conn:
        org = conn.execute(text("SELECT organization_id, dataset_id FROM media WHERE id = :id"),
                           {"id": media["id"]}).one()
        conn.execute(text(
            "INSERT INTO frames (id, organization_id, media_id, frame_index, timestamp,"
            " end_timestamp, width, height, blob_key) VALUES (:id, :org, :m, 0, 0, 1.5, 64, 48,"
            " 'ab/" + "a" * 32 + ".jpg')"), {"id": frame_id, "org": org[0], "m": media["id"]})
        conn.execute(text(
            "INSERT INTO captions (organization_id, frame_id, text, model)"
            " VALUES (:org, :f, :t, 'test-captioner')"),
            {"org": org[0], "f": frame_id, "t": caption})
        conn.execute(text(
            "INSERT INTO objects (organization_id, dataset_id, media_id, frame_id, type, label,"
            " confidence, bbox_x, bbox_y, bbox_width, bbox_height, model, embedding)"
            " VALUES (:org, :ds, :m, :f, 'object', :label, 0.9, 1, 2, 30, 40, 'det', '[1,2,3]')"),
            {"org": org[0], "ds": org[1], "m": media["id"], "f": frame_id, "label": label})
    return frame_id


def test_shape_matches_the_seed(lib: Library, database) -> None:  # type: ignore[no-untyped-def]
    media = lib.upload(media_files.image(), "a.jpg")
    frame_id = _add_frame(database, media, "A red square.", "square")
    page = lib.browse(limit=9, offset=0, sortDirection="desc")
    assert page["pagination"] == {"total": 1, "limit": 9, "offset": 0, "hasMore": False}
    item = page["media"][0]
    seed_fields = {"id", "name", "type", "blob", "entityId", "width", "height", "duration",
                   "sizeBytes", "exif", "createdAt", "updatedAt", "metadata", "createdById",
                   "updatedById", "status", "frames", "path"}
    assert seed_fields <= item.keys()
    assert item["entityId"] == str(lib.member.org_id)
    frame = item["frames"][0]
    assert frame["id"] == frame_id and frame["timestamp"] == "0"
    assert frame["endTimestamp"] == "1.5" and frame["mediaId"] == media["id"]
    assert frame["blob"].endswith("/blobs/ab/" + "a" * 32 + ".jpg")
    assert {"width", "height", "createdAt", "updatedAt", "status", "createdById", "metadata",
            "captions", "objects"} <= frame.keys()
    caption = frame["captions"][0]
    assert caption["text"] == "A red square." and caption["model"] == "test-captioner"
    assert caption["frameId"] == frame_id
    obj = frame["objects"][0]
    assert obj["bbox"] == {"x": 1, "y": 2, "width": 30, "height": 40}
    assert obj["label"] == "square" and obj["type"] == "object" and "embedding" not in obj
    assert item["createdAt"].endswith("Z")


def test_a_browse_page_is_the_items_as_their_model_shows_them(  # type: ignore[no-untyped-def]
        lib: Library, database) -> None:
    """Browse writes its JSON from plain dicts (media/views.py); GET /api/media/{id} goes
    through MediaOut. Both must give the same item, key for key and value for value."""
    folder = lib.folder("Trips")
    photo = lib.upload(media_files.image(), "photo.jpg")
    _add_frame(database, photo, "A red square.", "square")
    lib.upload(media_files.image(), "plain.jpg")
    page = lib.browse(limit=10)
    assert {m["id"] for m in page["media"]} == {folder["id"], photo["id"], page["media"][2]["id"]}
    for item in page["media"]:
        alone = lib.client.get(f"/api/media/{item['id']}", headers=lib.headers)
        assert alone.status_code == 200, alone.text
        assert item == alone.json()["media"]
    assert any(m["frames"] and m["frames"][0]["objects"] for m in page["media"])


def test_pagination_and_sorting(lib: Library, database) -> None:  # type: ignore[no-untyped-def]
    names = ["delta.jpg", "Alpha.jpg", "charlie.jpg", "bravo.jpg", "echo.jpg"]
    ids = [lib.upload(media_files.image(), n)["id"] for n in names]
    for i, media_id in enumerate(ids):
        _set_created(database, media_id, f"2024-01-0{i + 1}T12:00:00")
    assert lib.names() == names
    assert lib.names(sortDirection="desc") == names[::-1]
    assert lib.names(sortBy="name") == sorted(names, key=str.lower)
    assert lib.names(sortBy="name", sortDirection="desc") == sorted(names, key=str.lower)[::-1]
    pages = [lib.browse(limit=2, offset=o) for o in (0, 2, 4, 6)]
    assert [[m["name"] for m in p["media"]] for p in pages] == [names[:2], names[2:4],
                                                                names[4:], []]
    assert [p["pagination"]["hasMore"] for p in pages] == [True, True, False, False]
    assert {p["pagination"]["total"] for p in pages} == {5}


def test_filters(lib: Library, database, client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = lib.folder("Folder")
    jan = lib.upload(media_files.image(), "jan.jpg")
    feb = lib.upload(media_files.pdf(1), "feb.pdf")
    mar = lib.upload(media_files.video(tmp_path / "v.mp4"), "mar.mp4", path=folder["path"])
    for media, day in ((jan, "2024-01-15"), (feb, "2024-02-15"), (mar, "2024-03-15")):
        _set_created(database, media["id"], day + "T10:00:00")
    _set_created(database, folder["id"], "2024-01-01T00:00:00")
    for media, label, value in ((jan, "Color", "red"), (feb, "Color", "blue"),
                                (mar, "Color", "red"), (mar, "People", "Ana")):
        client.post(f"/api/media/{media['id']}/tags", headers=lib.headers,
                    json={"label": label, "value": value})

    assert lib.names() == ["Folder", "jan.jpg", "feb.pdf"]
    assert lib.names(recursive="true") == ["Folder", "jan.jpg", "feb.pdf", "mar.mp4"]
    assert lib.names(path=folder["path"]) == ["mar.mp4"]
    assert lib.names(type="pdf") == ["feb.pdf"]
    assert lib.names(type="folder") == ["Folder"]
    assert lib.names(type="video", recursive="true") == ["mar.mp4"]
    assert lib.names(type="all") == ["Folder", "jan.jpg", "feb.pdf"]
    assert lib.names(recursive="true", dateFrom="2024-02-01") == ["feb.pdf", "mar.mp4"]
    assert lib.names(recursive="true", dateTo="2024-02-15") == ["Folder", "jan.jpg", "feb.pdf"]
    assert lib.names(recursive="true", dateFrom="2024-02-15", dateTo="2024-02-15") == ["feb.pdf"]
    assert lib.names(recursive="true", tags="People") == ["mar.mp4"]
    assert lib.names(recursive="true", tags="Color,People") == ["mar.mp4"]
    assert lib.names(recursive="true", tags="Color") == ["jan.jpg", "feb.pdf", "mar.mp4"]
    red = json.dumps({"Color": ["red"]})
    assert lib.names(recursive="true", tagFilters=red) == ["jan.jpg", "mar.mp4"]
    both = json.dumps({"Color": ["red", "blue"], "People": ["Ana"]})
    assert lib.names(recursive="true", tagFilters=both) == ["mar.mp4"]
    assert lib.names(mediaId=mar["id"]) == ["mar.mp4"]  # found wherever it sits
    assert lib.names(mediaId=mar["id"].replace("-", "")) == ["mar.mp4"]
    page = lib.browse(recursive="true", tagFilters=red, limit=1)
    assert page["pagination"] == {"total": 2, "limit": 1, "offset": 0, "hasMore": True}


@pytest.mark.parametrize(("params", "words"), [
    ({"limit": "ten"}, "limit"), ({"limit": "-1"}, "limit"), ({"limit": "100000"}, "limit"),
    ({"offset": "-5"}, "offset"), ({"sortBy": "color"}, "sortBy"),
    ({"sortDirection": "up"}, "sortDirection"), ({"type": "audio"}, "type"),
    ({"dateFrom": "2024-13-01"}, "dateFrom"), ({"dateTo": "yesterday"}, "dateTo"),
    ({"tagFilters": "{not json"}, "tagFilters"), ({"tagFilters": "[1,2]"}, "tagFilters"),
    ({"tagFilters": '{"a": "b"}'}, "tagFilters"), ({"mediaId": "xyz"}, "mediaId"),
    ({"path": "../../etc"}, "path"), ({"path": "a.b.c"}, "path"),
    ({"recursive": "maybe"}, "recursive"),
    ({"tags": "a\x00b"}, "NUL"),
])
def test_malformed_parameters_are_400(lib: Library, client, params: dict, words: str) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"/api/dataset/{lib.id}/media", headers=lib.headers, params=params)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "Bad Request" and words in r.json()["message"]


def test_missing_collection_and_folder(lib: Library, client) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"/api/dataset/{uuid.uuid4()}/media", headers=lib.headers)
    assert r.status_code == 404 and r.json() == {"error": "Not Found",
                                                 "message": "Dataset not found"}
    r = client.get(f"/api/dataset/{lib.id}/media", headers=lib.headers,
                   params={"path": f"{lib.root}.{uuid.uuid4().hex}"})
    assert r.status_code == 404


def test_a_page_costs_the_same_queries_whatever_its_size(lib: Library, database) -> None:  # type: ignore[no-untyped-def]
    for i in range(12):
        media = lib.upload(media_files.image(), f"{i}.jpg")
        _add_frame(database, media, f"caption {i}", f"thing {i}")
    counts = []
    for limit in (1, 12):
        statements: list[str] = []

        def count(*args, seen=statements, **kwargs) -> None:  # type: ignore[no-untyped-def]
            seen.append(args[2])

        event.listen(database.engine, "before_cursor_execute", count)
        try:
            page = lib.browse(limit=limit)
        finally:
            event.remove(database.engine, "before_cursor_execute", count)
        assert len(page["media"]) == limit
        assert all(len(m["frames"]) == 1 and len(m["frames"][0]["objects"]) == 1
                   for m in page["media"])
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
