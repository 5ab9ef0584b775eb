from __future__ import annotations

import pytest

from tests import media_files
from tests.library import Library


@pytest.fixture
def lib(client, make_member) -> Library:  # type: ignore[no-untyped-def]
    return Library(client, make_member())


def test_rename_and_metadata(lib: Library, client) -> None:  # type: ignore[no-untyped-def]
    media = lib.upload(media_files.image(), "a.jpg")
    url = f"/api/media/{media['id']}"
    r = client.patch(url, headers=lib.headers, json={"name": "Sunset.jpg"})
    assert r.status_code == 200 and r.json()["media"]["name"] == "Sunset.jpg"
    assert r.json()["media"]["updatedById"] == str(lib.member.user_id)
    r = client.patch(url, headers=lib.headers, json={"metadata": {"rating": 5, "note": "x"}})
    meta = r.json()["media"]["metadata"]
    assert meta["rating"] == 5 and meta["processing"]["status"] == "queued"
    r = client.patch(url, headers=lib.headers, json={"metadata": {"note": None}})
    assert "note" not in r.json()["media"]["metadata"]
    for owned in ("processing", "moderation"):
        r = client.patch(url, headers=lib.headers, json={"metadata": {owned: {"status": "x"}}})
        assert r.status_code == 422 and owned in r.json()["message"]
    for bad in ({"name": None}, {"name": ""}, {"status": "deleted"}, {"organizationId": "x"},
                {"metadata": {"tags": {"a": "not a list"}}}, {"metadata": {"k": "a\x00"}},
                {"metadata": {"big": "x" * 70000}}):
        r = client.patch(url, headers=lib.headers, json=bad)
        assert r.status_code == 422, (bad, r.text)
    after = lib.media(media["id"])
    assert after["name"] == "Sunset.jpg" and after["status"] == "active"
    assert after["metadata"]["processing"]["status"] == "queued"


def test_soft_delete(lib: Library, client) -> None:  # type: ignore[no-untyped-def]
    media = lib.upload(media_files.image(), "a.jpg")
    r = client.delete(f"/api/media/{media['id']}", headers=lib.headers)
    assert r.status_code == 200 and r.json()["deleted"] is True
    assert client.get(f"/api/media/{media['id']}", headers=lib.headers).status_code == 404
    assert client.delete(f"/api/media/{media['id']}", headers=lib.headers).status_code == 404
    assert lib.browse()["pagination"]["total"] == 0


def test_another_organization_sees_nothing(lib: Library, client, make_member) -> None:  # type: ignore[no-untyped-def]
    media = lib.upload(media_files.image(), "mine.jpg")
    intruder = make_member()
    h = intruder.headers
    mid = media["id"]
    calls = [
        client.get(f"/api/media/{mid}", headers=h),
        client.patch(f"/api/media/{mid}", headers=h, json={"name": "pwned"}),
        client.delete(f"/api/media/{mid}", headers=h),
        client.patch(f"/api/media/{mid}/move", headers=h, json={"destinationPath": lib.root}),
        client.post(f"/api/media/{mid}/tags", headers=h, json={"label": "a", "value": "b"}),
        client.request("DELETE", f"/api/media/{mid}/tags", headers=h, json={"label": "a"}),
        client.patch(f"/api/media/{mid}/tags", headers=h, json={"oldLabel": "a", "newLabel": "b"}),
        client.get(f"/api/media/{mid}/versions", headers=h),
        client.delete(f"/api/media/{mid}/versions", headers=h, params={"versionId": mid}),
        client.patch(f"/api/media/{mid}/select-version", headers=h),
        client.get(f"/api/dataset/{lib.id}/media", headers=h),
        client.get(f"/api/dataset/{lib.id}/tags", headers=h),
    ]
    assert [c.status_code for c in calls] == [404] * len(calls)
    assert lib.media(mid)["name"] == "mine.jpg"


def test_viewer_reads_but_cannot_write(client, make_member) -> None:  # type: ignore[no-untyped-def]
    lib = Library(client, make_member(org="Viewers Inc"))
    media = lib.upload(media_files.image(), "a.jpg")
    viewer = make_member(org="Viewers Inc", role="viewer")
    assert viewer.org_id == lib.member.org_id
    h = viewer.headers
    assert client.get(f"/api/media/{media['id']}", headers=h).status_code == 200
    assert client.get(f"/api/dataset/{lib.id}/media", headers=h).status_code == 200
    assert client.patch(f"/api/media/{media['id']}", headers=h, json={"name": "x"}
                        ).status_code == 403
    assert client.delete(f"/api/media/{media['id']}", headers=h).status_code == 403
    assert client.post("/api/folder", headers=h, json={"datasetId": lib.id, "name": "x"}
                       ).status_code == 403
    assert client.post(f"/api/media/{media['id']}/tags", headers=h,
                       json={"label": "a", "value": "b"}).status_code == 403


def test_tags(lib: Library, client) -> None:  # type: ignore[no-untyped-def]
    a = lib.upload(media_files.image(), "a.jpg")
    b = lib.upload(media_files.image(), "b.jpg")
    url = f"/api/media/{a['id']}/tags"
    for value in ("red", "blue", "red"):
        r = client.post(url, headers=lib.headers, json={"label": "Color", "value": value})
        assert r.status_code == 200
    assert r.json()["tags"] == {"Color": ["red", "blue"]}
    client.post(url, headers=lib.headers, json={"label": "People", "value": "Ana"})
    client.post(f"/api/media/{b['id']}/tags", headers=lib.headers,
                json={"label": "Color", "value": "green"})
    agg = client.get(f"/api/dataset/{lib.id}/tags", headers=lib.headers).json()
    assert agg == {"tags": {"Color": ["blue", "green", "red"], "People": ["Ana"]}}

    r = client.request("DELETE", url, headers=lib.headers, json={"label": "Color", "value": "red"})
    assert r.json()["tags"] == {"Color": ["blue"], "People": ["Ana"]}
    r = client.patch(url, headers=lib.headers, json={"oldLabel": "People", "newLabel": "Who"})
    assert r.json()["tags"] == {"Color": ["blue"], "Who": ["Ana"]}
    r = client.patch(url, headers=lib.headers, json={"oldLabel": "Nope", "newLabel": "X"})
    assert r.status_code == 404
    r = client.request("DELETE", url, headers=lib.headers, json={"label": "Color"})
    assert r.json()["tags"] == {"Who": ["Ana"]}
    assert lib.media(a["id"])["metadata"]["tags"] == {"Who": ["Ana"]}
    for bad in ({"label": "", "value": "x"}, {"label": "x"}, {"label": "x", "value": 3},
                {"label": "x" * 101, "value": "y"}, {"label": "x", "value": "\x00"}):
        assert client.post(url, headers=lib.headers, json=bad).status_code == 422, bad


def test_versions(lib: Library, client) -> None:  # type: ignore[no-untyped-def]
    original = lib.upload(media_files.image(color="red"), "pic.jpg")
    client.post(f"/api/media/{original['id']}/tags", headers=lib.headers,
                json={"label": "k", "value": "v"})
    v2 = lib.upload(media_files.image(color="blue"), "edit.jpg", versionOf=original["id"],
                    name="")
    assert v2["versionNumber"] == 2 and v2["rootId"] == original["id"]
    assert v2["name"] == "pic.jpg" and v2["metadata"]["tags"] == {"k": ["v"]}
    page = lib.browse()
    assert [m["id"] for m in page["media"]] == [v2["id"]]  # only the active version is listed
    versions = client.get(f"/api/media/{original['id']}/versions", headers=lib.headers).json()
    assert [v["id"] for v in versions["versions"]] == [original["id"], v2["id"]]
    assert [v["isActiveVersion"] for v in versions["versions"]] == [False, True]

    r = client.patch(f"/api/media/{original['id']}/select-version", headers=lib.headers)
    assert r.status_code == 200 and r.json()["media"]["isActiveVersion"] is True
    assert [m["id"] for m in lib.browse()["media"]] == [original["id"]]

    r = client.delete(f"/api/media/{original['id']}/versions", headers=lib.headers,
                      params={"versionId": original["id"]})
    assert r.json() == {"deletedId": original["id"], "promotedId": v2["id"]}
    assert [m["id"] for m in lib.browse()["media"]] == [v2["id"]]
    r = client.delete(f"/api/media/{original['id']}/versions", headers=lib.headers,
                      params={"versionId": v2["id"]})
    assert r.json() == {"deletedId": v2["id"], "promotedId": None}
    assert lib.browse()["pagination"]["total"] == 0
    r = client.delete(f"/api/media/{original['id']}/versions", headers=lib.headers)
    assert r.status_code == 400 and "versionId" in r.json()["message"]  # a required parameter
    folder = lib.folder("F")
    r = client.patch(f"/api/media/{folder['id']}/select-version", headers=lib.headers)
    assert r.status_code == 422


def test_moving_a_versioned_item_moves_every_version(lib: Library) -> None:
    folder = lib.folder("F")
    original = lib.upload(media_files.image(), "pic.jpg")
    v2 = lib.upload(media_files.image(color="blue"), versionOf=original["id"])
    assert lib.move(original["id"], folder["path"]).json()["movedCount"] == 2
    assert lib.media(v2["id"])["path"].startswith(folder["path"] + ".")
    assert lib.names(path=folder["path"]) == ["pic.jpg"]
