"""The blob lifecycle: trash and restore, blobs that follow them, the purge (rows and blobs, by
job, twice, at once), the periodic purge, the orphan sweep and private blobs."""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from coreviz_studio.app import create_app
from coreviz_studio.lifecycle import purge, sweep
from coreviz_studio.storage.base import put_stream
from tests import media_files
from tests.jobs import drain, pipeline
from tests.library import Library


@pytest.fixture
def lib(client, make_member) -> Library:  # type: ignore[no-untyped-def]
    return Library(client, make_member())


def _path(url: str) -> str:
    """/blobs/<key>?... of an absolute blob URL, for the test client."""
    return "/" + url.split("//", 1)[1].split("/", 1)[1]


def _keys(media: dict[str, Any]) -> list[str]:
    urls = [media["blob"], media.get("thumbnail")] + [u for f in media["frames"]
                                                      for u in (f["blob"], f["thumbnailBlob"])]
    return [_path(u).removeprefix("/blobs/").split("?")[0] for u in urls if u]


def _processed(lib: Library, settings, database, *ids: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    drain(pipeline(settings, database, models="none"), list(ids))
    return [lib.media(i) for i in ids]


def _trash(lib: Library) -> list[str]:
    r = lib.client.get(f"/api/dataset/{lib.id}/trash", headers=lib.headers,
                       params={"limit": 100})
    assert r.status_code == 200, r.text
    return [m["name"] for m in r.json()["media"]]


def test_trashed_blobs_stop_at_once_and_come_back_on_restore(lib: Library, settings,  # type: ignore[no-untyped-def]
                                                             database) -> None:
    [media] = _processed(lib, settings, database, lib.upload(media_files.image(), "a.jpg")["id"])
    urls = [_path(u) for u in [media["blob"], media["frames"][0]["blob"],
                               media["frames"][0]["thumbnailBlob"]]]
    first = lib.client.get(urls[0])
    assert first.status_code == 200
    # Cached, but asked again each time: a delete is seen on the next request.
    assert first.headers["cache-control"] == "public, no-cache"
    etag = first.headers["etag"]
    assert lib.client.get(urls[0], headers={"if-none-match": etag}).status_code == 304
    assert lib.client.get(urls[0], headers={"range": "bytes=0-3"}).status_code == 206

    assert lib.client.delete(f"/api/media/{media['id']}", headers=lib.headers).status_code == 200
    for url in urls:
        assert lib.client.get(url).status_code == 404
        assert lib.client.get(url, headers={"if-none-match": etag}).status_code == 404
        assert lib.client.head(url).status_code == 404
    r = lib.client.post(f"/api/media/{media['id']}/restore", headers=lib.headers)
    assert r.status_code == 200, r.text
    assert r.json()["restoredCount"] == 1 and r.json()["newPath"] == media["path"]
    for url in urls:
        assert lib.client.get(url).status_code == 200
    assert lib.media(media["id"])["status"] == "active"
    assert _trash(lib) == []


def test_trash_lists_what_was_deleted_and_restore_brings_a_folder_back(lib: Library) -> None:
    folder = lib.folder("Trip")
    inner = lib.upload(media_files.image(), "inner.jpg", path=folder["path"])
    earlier = lib.upload(media_files.image(), "earlier.jpg", path=folder["path"])
    loose = lib.upload(media_files.image(), "loose.jpg")
    c = lib.client
    assert c.delete(f"/api/media/{earlier['id']}", headers=lib.headers).status_code == 200
    r = c.delete(f"/api/media/{folder['id']}", headers=lib.headers)
    assert r.status_code == 200 and r.json()["deletedCount"] == 2  # the folder and inner
    assert c.delete(f"/api/media/{loose['id']}", headers=lib.headers).status_code == 200
    # Newest first; the folder stands for what was deleted with it.
    assert _trash(lib) == ["loose.jpg", "Trip", "earlier.jpg"]
    r = c.get(f"/api/dataset/{lib.id}/trash", headers=lib.headers, params={"limit": 1})
    assert r.json()["pagination"] == {"total": 3, "limit": 1, "offset": 0, "hasMore": True}
    assert r.json()["media"][0]["status"] == "deleted"
    # Only trash entries can be restored: not what went with a folder, not active items.
    assert c.post(f"/api/media/{inner['id']}/restore", headers=lib.headers).status_code == 404
    r = c.post(f"/api/media/{folder['id']}/restore", headers=lib.headers)
    assert r.status_code == 200 and r.json()["restoredCount"] == 2
    assert sorted(lib.names(recursive="true")) == ["Trip", "inner.jpg"]
    assert c.post(f"/api/media/{folder['id']}/restore", headers=lib.headers).status_code == 404
    # What was deleted before the folder stays in the trash, and goes back into it.
    assert _trash(lib) == ["loose.jpg", "earlier.jpg"]
    r = c.post(f"/api/media/{earlier['id']}/restore", headers=lib.headers)
    assert r.json()["newPath"] == earlier["path"]


def test_restore_into_a_trashed_folder_goes_to_the_root(lib: Library) -> None:
    folder = lib.folder("Gone")
    item = lib.upload(media_files.image(), "kept.jpg", path=folder["path"])
    c = lib.client
    c.delete(f"/api/media/{item['id']}", headers=lib.headers)
    c.delete(f"/api/media/{folder['id']}", headers=lib.headers)
    r = c.post(f"/api/media/{item['id']}/restore", headers=lib.headers)
    assert r.status_code == 200
    assert r.json()["newPath"] == f"{lib.root}.{item['id'].replace('-', '')}"
    assert lib.names() == ["kept.jpg"] and _trash(lib) == ["Gone"]


def test_trash_is_walled(lib: Library, client, make_member) -> None:  # type: ignore[no-untyped-def]
    item = lib.upload(media_files.image(), "mine.jpg")
    client.delete(f"/api/media/{item['id']}", headers=lib.headers)
    other = make_member()
    assert client.get(f"/api/dataset/{lib.id}/trash", headers=other.headers).status_code == 404
    assert client.post(f"/api/media/{item['id']}/restore",
                       headers=other.headers).status_code == 404
    r = client.get(f"/api/dataset/{lib.id}/trash", headers=lib.headers, params={"limit": -1})
    assert r.status_code == 400 and r.json()["error"] == "Bad Request"


def _everything_mentioning(database, needles: list[str]) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Rows of any table whose text holds one of `needles` (ids, hyphen-less ids, keys)."""
    found = {}
    with database.engine.connect() as c:
        tables = c.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        for table in list(tables):
            n = c.scalar(text(f'SELECT count(*) FROM "{table}" t '  # noqa: S608 - catalog names
                              "WHERE t::text LIKE ANY(:pats)"),
                         {"pats": [f"%{x}%" for x in needles]})
            if n:
                found[table] = n
    return found


def _needles(*media: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for m in media:
        out += [m["id"], m["id"].replace("-", ""), *_keys(m)]
        out += [f["id"] for f in m["frames"]]
    return out


def test_permanent_delete_purges_every_row_and_blob(client, make_member, settings,  # type: ignore[no-untyped-def]
                                                    database) -> None:
    org = f"purge-{uuid.uuid4().hex[:8]}"
    lib = Library(client, make_member(org=org))
    member = make_member(org=org, role="member")
    folder = lib.folder("Album")
    photo = lib.upload(media_files.image("PNG", (80, 60)), "p.png", path=folder["path"])
    second = lib.upload(media_files.image("JPEG", (60, 80)), "p2.jpg", versionOf=photo["id"])
    keep = lib.upload(media_files.image(), "keep.jpg")
    photo, second, keep = _processed(lib, settings, database, photo["id"], second["id"],
                                     keep["id"])
    r = client.post(f"/api/media/{second['id']}/tags", headers=lib.headers,
                    json={"label": "Color", "value": "red"})
    assert r.status_code in (200, 201), r.text
    gone = [folder | {"frames": [], "blob": None}, photo, second]
    needles = _needles(*gone)
    assert _everything_mentioning(database, needles)

    url = f"/api/media/{folder['id']}"
    assert client.delete(url, headers=member.headers,
                         params={"permanent": "true"}).status_code == 403
    assert lib.media(photo["id"])["status"] == "active"  # the refusal changed nothing
    r = client.delete(url, headers=lib.headers, params={"permanent": "true"})
    assert r.status_code == 200 and r.json()["deletedCount"] == 3, r.text
    assert client.get(_path(photo["blob"])).status_code == 404  # gone at once
    drain(pipeline(settings, database, models="none"), [folder["id"]])

    assert _everything_mentioning(database, needles) == {}
    stored = {b.key for b in pipeline(settings, database).store.list_blobs()}
    assert not stored & set(needles)
    assert set(_keys(keep)) <= stored and lib.media(keep["id"])["status"] == "active"
    # Again, directly: nothing left to do.
    pipe = pipeline(settings, database)
    assert purge.purge(replace(pipe, organization_id=lib.member.org_id),
                       uuid.UUID(folder["id"])) == 0


def test_a_purge_leaves_nothing_of_an_item_uploaded_with_tus(lib: Library, client, settings,  # type: ignore[no-untyped-def]
                                                             database) -> None:
    from tests.tus_client import Tus

    data = media_files.image("PNG", (80, 60))
    r = Tus(client, lib).upload(data, chunk=1000, filename="resumed.png")
    assert r.status_code == 204, r.text
    [media] = _processed(lib, settings, database, r.headers["coreviz-media-id"])
    needles = _needles(media)
    assert "tus_uploads" in _everything_mentioning(database, needles)  # its kept answer
    r = client.delete(f"/api/media/{media['id']}", headers=lib.headers,
                      params={"permanent": "true"})
    assert r.status_code == 200, r.text
    drain(pipeline(settings, database, models="none"), [media["id"]])
    assert _everything_mentioning(database, needles) == {}


def test_purge_twice_at_once_is_safe(lib: Library, settings, database) -> None:  # type: ignore[no-untyped-def]
    [media] = _processed(lib, settings, database, lib.upload(media_files.image(), "x.jpg")["id"])
    lib.client.delete(f"/api/media/{media['id']}", headers=lib.headers)
    pipe = replace(pipeline(settings, database), organization_id=lib.member.org_id)
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(purge.purge(pipe, uuid.UUID(media["id"])))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sorted(results) == [0, 1]
    assert _everything_mentioning(database, _needles(media)) == {}
    assert not {b.key for b in pipe.store.list_blobs()} & set(_keys(media))


def test_periodic_purge_takes_only_what_is_old_enough(lib: Library, settings, database) -> None:  # type: ignore[no-untyped-def]
    old = lib.upload(media_files.image(), "old.jpg")
    recent = lib.upload(media_files.image(), "recent.jpg")
    for m in (old, recent):
        lib.client.delete(f"/api/media/{m['id']}", headers=lib.headers)
    with database.engine.begin() as c:
        c.execute(text("UPDATE media SET deleted_at = now() - interval '31 days' WHERE id = :i"),
                  {"i": old["id"]})
    pipe = pipeline(settings, database)
    assert purge.purge_expired(pipe, datetime.now(UTC)) >= 1
    assert _trash(lib) == ["recent.jpg"]
    assert pipe.store.stat(_keys(old)[0]) is None
    assert pipe.store.stat(_keys(recent)[0]) is not None


def test_the_sweep_removes_only_old_unheld_blobs(lib: Library, settings, database) -> None:  # type: ignore[no-untyped-def]
    held = lib.upload(media_files.image(), "held.jpg")
    trashed = lib.upload(media_files.image(), "trashed.jpg")
    lib.client.delete(f"/api/media/{trashed['id']}", headers=lib.headers)
    store = pipeline(settings, database).store
    orphan = put_stream(store, iter([b"nobody holds me"]), "jpg")
    grace = timedelta(hours=settings.orphan_grace_hours)
    # Too young at its own time of storing: kept.
    planted = store.stat(orphan)
    assert planted is not None
    sweep.sweep_orphans(database, store, grace, planted.modified)
    assert store.stat(orphan) is not None
    # Old enough: the orphan goes; a held blob (active or trashed) stays.
    assert sweep.sweep_orphans(database, store, grace, datetime.now(UTC) + grace
                               + timedelta(minutes=1)) >= 1
    assert store.stat(orphan) is None
    assert store.stat(_keys(held)[0]) is not None and store.stat(_keys(trashed)[0]) is not None


@pytest.fixture(scope="module")
def private_client(settings, database) -> Any:  # type: ignore[no-untyped-def]
    app = create_app(settings.model_copy(update={"private_blobs": True}), database)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_private_blobs_need_a_signature_or_a_credential(private_client, make_member,  # type: ignore[no-untyped-def]
                                                        make_session_token) -> None:
    lib = Library(private_client, make_member())
    media = lib.upload(media_files.image(), "secret.jpg")
    signed = _path(media["blob"])
    plain = signed.split("?")[0]
    assert "signature=" in signed and "expires=" in signed
    r = private_client.get(signed)
    assert r.status_code == 200 and r.headers["cache-control"] == "private, no-cache"
    r = private_client.get(plain)
    assert r.status_code == 401 and r.json()["error"] == "Unauthorized"
    assert private_client.get(plain + "?expires=1&signature=00").status_code == 401
    forged = signed.replace("signature=", "signature=0")
    assert private_client.get(forged).status_code == 401
    assert private_client.get(plain, headers=lib.headers).status_code == 200
    token = make_session_token(lib.member)
    assert private_client.get(plain, headers={"authorization": f"Bearer {token}"}
                              ).status_code == 200
    assert private_client.get(plain, headers={"cookie": f"better-auth.session_token={token}"}
                              ).status_code == 200
    other = make_member()
    assert private_client.get(plain, headers=other.headers).status_code == 404
    assert private_client.get(plain, headers={"x-api-key": "cvz_wrong"}).status_code == 401
    # Deleted: not even a valid signature serves it.
    private_client.delete(f"/api/media/{media['id']}", headers=lib.headers)
    assert private_client.get(signed).status_code == 404


def test_an_item_restored_after_its_job_skipped_it_is_processed(lib: Library, settings,  # type: ignore[no-untyped-def]
                                                                database) -> None:
    media = lib.upload(media_files.image(), "late.jpg")
    lib.client.delete(f"/api/media/{media['id']}", headers=lib.headers)
    drain(pipeline(settings, database, models="none"), [media["id"]])  # skipped: in the trash
    assert lib.client.post(f"/api/media/{media['id']}/restore",
                           headers=lib.headers).status_code == 200
    [media] = _processed(lib, settings, database, media["id"])
    assert media["metadata"]["processing"]["status"] == "ready" and media["frames"]
