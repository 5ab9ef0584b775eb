from __future__ import annotations

import pytest

from tests import media_files
from tests.library import Library


@pytest.fixture
def lib(client, make_member) -> Library:  # type: ignore[no-untyped-def]
    return Library(client, make_member())


def test_folder_crud_and_shape(lib: Library, client) -> None:  # type: ignore[no-untyped-def]
    folder = lib.folder("Trips")
    assert folder["path"] == f"{lib.root}.{folder['id'].replace('-', '')}"
    assert folder["collectionId"] == lib.id and folder["name"] == "Trips"
    got = client.get(f"/api/folder/{folder['id']}", headers=lib.headers).json()["folder"]
    assert got == folder
    r = client.patch(f"/api/folder/{folder['id']}", headers=lib.headers,
                     json={"name": "Journeys", "metadata": {"color": "blue"}})
    assert r.status_code == 200
    assert r.json()["folder"]["name"] == "Journeys"
    assert r.json()["folder"]["metadata"] == {"color": "blue"}
    assert r.json()["folder"]["path"] == folder["path"]
    # A media id is not a folder id.
    media = lib.upload(media_files.image())
    assert client.get(f"/api/folder/{media['id']}", headers=lib.headers).status_code == 404


@pytest.mark.parametrize("name", ["a.b.c", "x-y-z", "🏔️ Alps 2024", "*{}!|~@", "n" * 300,
                                  "../..", "  spaced  "])
def test_any_folder_name(lib: Library, name: str) -> None:
    folder = lib.folder(name)
    assert folder["name"] == name.strip()
    inner = lib.folder("inner", path=folder["path"])
    assert inner["path"].startswith(folder["path"] + ".")
    assert lib.names(path=folder["path"]) == ["inner"]


def test_reuse_returns_the_existing_folder(lib: Library) -> None:
    first = lib.folder("Inbox")
    assert lib.folder("Inbox", reuse=True)["id"] == first["id"]
    assert lib.folder("Inbox")["id"] != first["id"]  # without reuse: a second one
    sub = lib.folder("Inbox", path=first["path"], reuse=True)
    assert sub["id"] != first["id"]  # same name, another place


def test_bad_folder_requests(lib: Library, client, make_member) -> None:  # type: ignore[no-untyped-def]
    post = lambda body: client.post("/api/folder", headers=lib.headers, json=body)  # noqa: E731
    assert post({"datasetId": lib.id, "name": ""}).status_code == 422
    assert post({"datasetId": lib.id, "name": "a\x00b"}).status_code == 422
    assert post({"datasetId": lib.id, "name": "x", "path": "a.b"}).status_code == 400
    assert post({"datasetId": lib.id, "name": "x", "path": "$$"}).status_code == 400
    assert post({"datasetId": lib.id, "name": "x", "path": f"{lib.root}.{'f' * 32}"}
                ).status_code == 404
    assert post({"datasetId": lib.id, "name": "x", "colour": 1}).status_code == 422
    other = Library(client, make_member())
    assert post({"datasetId": other.id, "name": "x"}).status_code == 404
    their = other.folder("Theirs")
    for method in ("get", "delete"):
        r = getattr(client, method)(f"/api/folder/{their['id']}", headers=lib.headers)
        assert r.status_code == 404
    r = client.patch(f"/api/folder/{their['id']}", headers=lib.headers, json={"name": "Mine"})
    assert r.status_code == 404
    assert client.get(f"/api/folder/{their['id']}", headers=other.headers
                      ).json()["folder"]["name"] == "Theirs"


def test_delete_folder_takes_its_contents(lib: Library, client) -> None:  # type: ignore[no-untyped-def]
    a = lib.folder("A")
    b = lib.folder("B", path=a["path"])
    inside = lib.upload(media_files.image(), "deep.jpg", path=b["path"])
    keep = lib.upload(media_files.image(), "keep.jpg")
    r = client.delete(f"/api/folder/{a['id']}", headers=lib.headers)
    assert r.status_code == 200 and r.json()["deletedCount"] == 3
    assert client.get(f"/api/media/{inside['id']}", headers=lib.headers).status_code == 404
    assert client.get(f"/api/folder/{b['id']}", headers=lib.headers).status_code == 404
    assert lib.names(recursive="true") == ["keep.jpg"]
    assert lib.media(keep["id"])["status"] == "active"
    # Nothing can be put into the deleted folder any more.
    assert lib.upload_raw(media_files.image(), path=b["path"]).status_code == 404


def test_move_folder_moves_the_whole_subtree(lib: Library) -> None:
    a, target = lib.folder("A"), lib.folder("Target")
    b = lib.folder("B", path=a["path"])
    photo = lib.upload(media_files.image(), "p.jpg", path=b["path"])
    r = lib.move(a["id"], target["path"])
    assert r.status_code == 200, r.text
    new_a = f"{target['path']}.{a['id'].replace('-', '')}"
    assert r.json() == {"id": a["id"], "newPath": new_a, "movedCount": 3}
    assert lib.names(path=target["path"]) == ["A"]
    new_b = f"{new_a}.{b['id'].replace('-', '')}"
    assert lib.names(path=new_b) == ["p.jpg"]
    assert lib.media(photo["id"])["path"] == f"{new_b}.{photo['id'].replace('-', '')}"
    assert sorted(lib.names()) == ["Target"]
    # An upload to the folder's new path works; its old path no longer exists.
    assert lib.upload_raw(media_files.image(), path=new_b).status_code == 201
    assert lib.upload_raw(media_files.image(), path=b["path"]).status_code == 404


def test_move_refusals(lib: Library, client, make_member) -> None:  # type: ignore[no-untyped-def]
    a = lib.folder("A")
    b = lib.folder("B", path=a["path"])
    assert lib.move(a["id"], a["path"]).status_code == 422  # into itself
    r = lib.move(a["id"], b["path"])  # into its own subfolder
    assert r.status_code == 422 and "subfolders" in r.json()["message"]
    assert lib.move(a["id"], "junk path").status_code == 400
    assert lib.move(a["id"], f"{lib.root}.{'a' * 32}").status_code == 404
    other = Library(client, make_member())
    their_folder = other.folder("Theirs")
    # Well formed, but no folder of this collection (and nothing said about theirs).
    assert lib.move(a["id"], their_folder["path"]).status_code == 404
    their_photo = other.upload(media_files.image())
    assert lib.move(their_photo["id"], lib.root).status_code == 404
    assert other.media(their_photo["id"])["path"].startswith(other.root)
    # Moving to where it already is changes nothing.
    r = lib.move(b["id"], a["path"])
    assert r.status_code == 200 and r.json()["movedCount"] == 0
    # Back to the root.
    r = lib.move(b["id"], lib.root)
    assert r.json()["newPath"] == f"{lib.root}.{b['id'].replace('-', '')}"
    assert sorted(lib.names()) == ["A", "B"]


def test_move_media_item(lib: Library) -> None:
    folder = lib.folder("F")
    photo = lib.upload(media_files.image(), "p.jpg")
    r = lib.move(photo["id"], folder["path"])
    assert r.status_code == 200
    assert lib.names(path=folder["path"]) == ["p.jpg"]
    assert lib.names() == ["F"]


def test_concurrent_reuse_makes_one_folder(lib: Library, client) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    def create(_: int) -> str:
        r = client.post("/api/folder", headers=lib.headers,
                        json={"datasetId": lib.id, "name": "Inbox", "reuse": True})
        assert r.status_code == 201, r.text
        return str(r.json()["folder"]["id"])

    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(create, range(8)))
    assert len(ids) == 1
    assert lib.names() == ["Inbox"]


def test_upload_racing_a_folder_delete_never_leaves_an_orphan(lib: Library, client,  # type: ignore[no-untyped-def]
                                                              monkeypatch) -> None:
    """The folder is deleted while an upload into it is between its checks and its insert:
    the delete must wait, then take the new item with it."""
    import threading
    import time

    from coreviz_studio.uploads import service as uploads

    real_container = uploads.tree.container
    checked = threading.Event()

    def slow_container(*args, **kwargs):  # type: ignore[no-untyped-def]
        path = real_container(*args, **kwargs)
        checked.set()
        time.sleep(0.5)
        return path

    folder = lib.folder("Racy")
    monkeypatch.setattr(uploads.tree, "container", slow_container)
    result: list[int] = []
    upload = threading.Thread(target=lambda: result.append(
        lib.upload_raw(media_files.image(), "x.jpg", path=folder["path"]).status_code))
    upload.start()
    assert checked.wait(5)
    assert client.delete(f"/api/folder/{folder['id']}", headers=lib.headers).status_code == 200
    upload.join()
    assert result == [201]
    assert lib.names(recursive="true") == []


def test_nesting_stops_at_the_depth_limit_with_a_clear_error(lib: Library) -> None:
    from coreviz_studio.media.paths import MAX_DEPTH

    path = None
    for level in range(MAX_DEPTH - 1):  # the collection's root is the first label
        path = lib.folder(f"d{level}", path=path)["path"]
    r = lib.client.post("/api/folder", headers=lib.headers,
                        json={"datasetId": lib.id, "name": "too deep", "path": path})
    assert r.status_code == 422 and "deeper" in r.json()["message"]
    assert lib.upload_raw(media_files.image(), path=path).status_code == 422
    chain = lib.folder("chain")
    lib.folder("inner", path=chain["path"])
    deep_parent = path.rsplit(".", 1)[0]
    r = lib.move(chain["id"], deep_parent)  # its child would land one level too deep
    assert r.status_code == 422, r.text


def test_names_lose_control_and_bidi_characters(lib: Library, client) -> None:  # type: ignore[no-untyped-def]
    assert lib.folder("\u202eevil\u0007 name")["name"] == "evil name"
    family = "👨\u200d👩\u200d👧 album"  # joiners stay
    assert lib.folder(family)["name"] == family
    r = client.post("/api/folder", headers=lib.headers,
                    json={"datasetId": lib.id, "name": "\u0007\u0095"})
    assert r.status_code == 422
    r = client.post("/api/folder", headers=lib.headers,
                    json={"datasetId": lib.id, "name": "x", "reuse": "yes"})
    assert r.status_code == 422
