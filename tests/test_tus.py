"""tus 1.0 at /api/upload/tus, in process and in raw requests: creation, chunks, offsets,
checksums, expiry, termination, walls; and Content-Digest (RFC 9530) on both kinds of upload.
tests/test_tus_server.py runs the real client (tuspy) and cut-off PATCHes against a server."""

from __future__ import annotations

import hashlib
import io
import uuid

import httpx
import pytest
from sqlalchemy import text

from tests import media_files
from tests.jobs import drain, pipeline
from tests.library import Library
from tests.tus_client import CHUNK, TUS, Tus, sha256_b64


@pytest.fixture
def lib(client, make_member) -> Library:  # type: ignore[no-untyped-def]
    return Library(client, make_member())


@pytest.fixture
def tus(client, lib: Library) -> Tus:  # type: ignore[no-untyped-def]
    return Tus(client, lib)


def _photo() -> bytes:
    return media_files.image("PNG", size=(300, 200))


def _state(database, url: str) -> tuple[str, int] | None:  # type: ignore[no-untyped-def]
    with database.system_sessions() as s:
        row = s.execute(text("SELECT store_state, \"offset\" FROM tus_uploads WHERE id = :id"),
                        {"id": url.rsplit("/", 1)[1]}).first()
    return (row[0], row[1]) if row else None


def _part_exists(settings, state: str) -> bool:  # type: ignore[no-untyped-def]
    return (settings.effective_blob_dir() / "tus" / f"{state}.part").exists()


def test_options_lists_what_the_server_supports(client, lib: Library, settings) -> None:  # type: ignore[no-untyped-def]
    r = client.options("/api/upload/tus", headers=lib.headers)
    assert r.status_code == 204
    assert r.headers["tus-version"] == "1.0.0"
    assert set(r.headers["tus-extension"].split(",")) == {
        "creation", "creation-with-upload", "termination", "checksum", "expiration"}
    assert r.headers["tus-checksum-algorithm"] == "sha256"
    assert r.headers["tus-max-size"] == str(settings.max_upload_bytes)


def test_chunks_become_media_like_a_multipart_upload(tus: Tus, lib: Library, client,  # type: ignore[no-untyped-def]
                                                    settings, database) -> None:
    data = _photo()
    url = tus.new(len(data), name="Beach", filename="beach.png")
    assert url.startswith("/api/upload/tus/")
    head = tus.head(url)
    assert head.headers["upload-offset"] == "0" and head.headers["upload-length"] == str(len(data))
    assert head.headers["tus-resumable"] == "1.0.0" and head.headers["cache-control"] == "no-store"
    assert "upload-expires" in head.headers
    r = None
    for start in range(0, len(data), 1000):
        r = tus.patch(url, start, data[start:start + 1000],
                      **{"Upload-Checksum": f"sha256 {sha256_b64(data[start:start + 1000])}"})
        assert r.status_code == 204, r.text
        assert r.headers["upload-offset"] == str(min(len(data), start + 1000))
    assert r is not None
    media_id = r.headers["coreviz-media-id"]
    answer = client.get(url, headers=lib.headers)
    assert answer.status_code == 200
    assert answer.json()["mediaId"] == media_id and answer.json()["url"] == \
        r.headers["coreviz-media-url"]
    assert tus.head(url).headers["coreviz-media-id"] == media_id
    # the same media as the same bytes uploaded as a form
    via_tus = lib.media(media_id)
    via_form = lib.upload(data, "beach.png", name="Beach")
    for field in ("type", "mimeType", "sizeBytes", "sha256", "width", "height", "name",
                  "status", "versionNumber"):
        assert via_tus[field] == via_form[field], field
    assert via_tus["sha256"] == hashlib.sha256(data).hexdigest()
    assert via_tus["metadata"]["processing"]["status"] == "queued"
    assert client.get("/" + via_tus["blob"].split("/", 3)[3]).content == data
    drain(pipeline(settings, database, models="none"), [media_id])
    assert lib.media(media_id)["metadata"]["processing"]["status"] == "ready"


def test_the_hash_is_right_when_this_process_did_not_see_every_chunk(tus: Tus, lib: Library,  # type: ignore[no-untyped-def]
                                                                     database) -> None:
    from coreviz_studio.uploads import tus_hashes

    data = _photo()
    url = tus.new(len(data))
    upload_id = uuid.UUID(url.rsplit("/", 1)[1])
    half = len(data) // 2
    assert tus.patch(url, 0, data[:half]).status_code == 204
    assert tus_hashes.take(upload_id, half) is not None  # kept for the next chunk; now gone,
    # as when the next chunk goes to another API process: the file is hashed as stored
    r = tus.patch(url, half, data[half:])
    assert r.status_code == 204, r.text
    assert lib.media(r.headers["coreviz-media-id"])["sha256"] == hashlib.sha256(data).hexdigest()
    # and a cached hash is used only at its own offset: a stale one is never taken
    tus_hashes.put(upload_id, 5, hashlib.sha256(b"wrong"))
    assert tus_hashes.take(upload_id, 6) is None and tus_hashes.take(upload_id, 5) is None


def test_creation_with_upload_in_one_request(tus: Tus, lib: Library) -> None:
    data = _photo()
    r = tus.create(len(data), data)
    assert r.status_code == 201, r.text
    assert r.headers["upload-offset"] == str(len(data))
    assert lib.media(r.headers["coreviz-media-id"])["sizeBytes"] == len(data)


def test_a_checked_first_chunk_gives_the_files_hash_too(tus: Tus, lib: Library) -> None:
    """At offset 0 the chunk's hash (Upload-Checksum) is also the file's running hash: one
    sha256 pass serves both, whether the file comes whole or continues in further chunks."""
    data = _photo()
    r = tus.create(len(data), data, {"Upload-Checksum": f"sha256 {sha256_b64(data)}"})
    assert r.status_code == 201, r.text
    assert lib.media(r.headers["coreviz-media-id"])["sha256"] == hashlib.sha256(data).hexdigest()
    other = _photo()[:-1] + b"\x00"  # not the same bytes: not taken for a duplicate
    url = tus.new(len(other))
    half = len(other) // 2
    checked = {"Upload-Checksum": f"sha256 {sha256_b64(other[:half])}"}
    first = tus.patch(url, 0, other[:half], **checked)
    assert first.status_code == 204, first.text
    r = tus.patch(url, half, other[half:])
    assert r.status_code == 204, r.text
    assert lib.media(r.headers["coreviz-media-id"])["sha256"] == \
        hashlib.sha256(other).hexdigest()


def test_a_new_version_and_a_folder(tus: Tus, lib: Library) -> None:
    folder = lib.folder("Trips")
    first = lib.media(tus.upload(_photo(), path=folder["path"]).headers["coreviz-media-id"])
    assert first["path"].startswith(folder["path"] + ".")
    second = tus.upload(media_files.image("JPEG"), versionOf=first["id"])
    newer = lib.media(second.headers["coreviz-media-id"])
    assert newer["versionNumber"] == 2 and newer["name"] == first["name"]


def test_a_wrong_offset_is_a_409_and_changes_nothing(tus: Tus, database) -> None:  # type: ignore[no-untyped-def]
    data = _photo()
    url = tus.new(len(data))
    assert tus.patch(url, 0, data[:500]).status_code == 204
    for wrong in (0, 400, 501):
        r = tus.patch(url, wrong, data[wrong:wrong + 10])
        assert r.status_code == 409 and "500" in r.json()["message"], r.text
        assert r.headers["tus-resumable"] == "1.0.0"
    assert tus.offset(url) == 500


def test_a_checksum_mismatch_is_a_460_and_the_chunk_is_not_kept(tus: Tus) -> None:
    data = _photo()
    url = tus.new(len(data))
    r = tus.patch(url, 0, data[:500], **{"Upload-Checksum": f"sha256 {sha256_b64(b'other')}"})
    assert r.status_code == 460 and r.json()["error"] == "Checksum Mismatch", r.text
    assert tus.offset(url) == 0
    r = tus.patch(url, 0, data[:500], **{"Upload-Checksum": f"sha1 {sha256_b64(b'x')}"})
    assert r.status_code == 400 and "sha256" in r.json()["message"]
    r = tus.patch(url, 0, data[:500], **{"Upload-Checksum": "sha256 !!!"})
    assert r.status_code == 400
    assert tus.offset(url) == 0


def test_a_content_digest_mismatch_is_a_400_for_tus(tus: Tus) -> None:
    data = _photo()
    url = tus.new(len(data))
    r = tus.patch(url, 0, data[:500], **{"Content-Digest": f"sha-256=:{sha256_b64(b'x')}:"})
    assert r.status_code == 400 and "Content-Digest mismatch" in r.json()["message"], r.text
    assert tus.offset(url) == 0
    # a right one, and one of an algorithm we do not check (ignored, RFC 9530)
    r = tus.patch(url, 0, data[:500], **{"Content-Digest":
                                         f"sha-512=:AAAA:, sha-256=:{sha256_b64(data[:500])}:"})
    assert r.status_code == 204
    assert tus.patch(url, 500, data[500:600], **{"Content-Digest": "md5=:AAAA:"}).status_code == 204
    r = tus.create(len(data), data, {"Content-Digest": f"sha-256=:{sha256_b64(b'y')}:"})
    assert r.status_code == 400
    assert tus.offset(r.headers["location"]) == 0  # created, but nothing of the body kept


def _blob_files(settings) -> set[str]:  # type: ignore[no-untyped-def]
    root = settings.effective_blob_dir()
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()
            and not str(p.relative_to(root)).startswith("tus/")}


def test_a_content_digest_mismatch_is_a_400_for_multipart(lib: Library, client,  # type: ignore[no-untyped-def]
                                                          settings) -> None:
    data = _photo()
    request = httpx.Request("POST", "http://testserver/api/upload/multipart",
                            data={"datasetId": lib.id}, files={"file": ("a.png", data)})
    body = request.read()
    headers = {**lib.headers, "Content-Type": request.headers["content-type"]}
    before = _blob_files(settings)
    r = client.post("/api/upload/multipart", content=body, headers={
        **headers, "Content-Digest": f"sha-256=:{sha256_b64(body + b'x')}:"})
    assert r.status_code == 400 and "Content-Digest mismatch" in r.json()["message"], r.text
    assert _blob_files(settings) == before and lib.names() == []
    r = client.post("/api/upload/multipart", content=body, headers={
        **headers, "Content-Digest": "sha-256=:not base64:"})
    assert r.status_code == 400
    r = client.post("/api/upload/multipart", content=body, headers={
        **headers, "Content-Digest": f"sha-256=:{sha256_b64(body)}:"})
    assert r.status_code == 201, r.text
    assert lib.names() == ["a.png"]


def test_an_expired_upload_is_a_410_and_its_bytes_are_gone(tus: Tus, client, lib: Library,  # type: ignore[no-untyped-def]
                                                          database, settings) -> None:
    data = _photo()
    url = tus.new(len(data))
    assert tus.patch(url, 0, data[:500]).status_code == 204
    found = _state(database, url)
    assert found is not None and _part_exists(settings, found[0])
    with database.system_sessions() as s:
        s.execute(text("UPDATE tus_uploads SET expires_at = now() - interval '1 second' "
                       "WHERE id = :id"), {"id": url.rsplit("/", 1)[1]})
        s.commit()
    r = tus.patch(url, 500, data[500:])
    assert r.status_code == 410 and "expired" in r.json()["message"], r.text
    assert _state(database, url) is None and not _part_exists(settings, found[0])
    assert tus.head(url).status_code == 404


def test_the_sweep_removes_expired_uploads_of_every_organization(tus: Tus, database,  # type: ignore[no-untyped-def]
                                                                settings) -> None:
    from datetime import UTC, datetime, timedelta

    from coreviz_studio.storage.local import LocalBlobStore
    from coreviz_studio.uploads.tus import remove_expired

    url = tus.new(100)
    state = _state(database, url)
    assert state is not None
    store = LocalBlobStore(settings.effective_blob_dir())
    remove_expired(database, store, now=datetime.now(UTC) + timedelta(
        hours=settings.tus_expiry_hours + 1))
    assert _state(database, url) is None and not _part_exists(settings, state[0])


def test_expired_uploads_are_swept_by_a_periodic_job(tus: Tus, database, settings) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    from coreviz_studio.pipeline import worker
    from tests.jobs import pipeline

    app = worker.make_app(pipeline(settings, database))
    periodic = {(p.task.name, p.periodic_id) for p in app.periodic_registry.periodic_tasks.values()}
    assert ("coreviz_studio.expire_uploads", "expire-uploads") in periodic
    url = tus.new(100)
    later = datetime.now(UTC) + timedelta(hours=settings.tus_expiry_hours + 1)
    assert app.tasks["coreviz_studio.expire_uploads"](int(later.timestamp())) >= 1
    assert _state(database, url) is None


def test_tus_headers_and_types_are_checked(tus: Tus, lib: Library, client, settings) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/upload/tus", headers={**lib.headers, "Upload-Length": "10"})
    assert r.status_code == 412 and r.headers["tus-version"] == "1.0.0", r.text
    r = tus.create(10, headers={"Tus-Resumable": "0.2.2"})
    assert r.status_code == 412
    r = tus.create(settings.max_upload_bytes + 1)
    assert r.status_code == 413 and "COREVIZ_MAX_UPLOAD_BYTES" in r.json()["message"]
    assert tus.create(0).status_code == 422
    r = client.post("/api/upload/tus", headers={**lib.headers, **TUS, "Upload-Length": "x"})
    assert r.status_code == 400
    r = client.post("/api/upload/tus", headers={**lib.headers, **TUS, "Upload-Length": "10"})
    assert r.status_code == 422 and "datasetId" in r.json()["message"]
    r = tus.create(10, headers={"Upload-Metadata": "datasetId ***"})
    assert r.status_code == 400
    assert tus.create(10, datasetId=str(uuid.uuid4())).status_code == 404
    assert tus.create(10, path=f"{lib.root}.{uuid.uuid4().hex}").status_code == 404
    assert tus.create(10, b"0123456789", {"Content-Type": "image/png"}).status_code == 415
    data = _photo()
    url = tus.new(len(data))
    r = client.patch(url, content=data, headers={**lib.headers, **TUS, "Upload-Offset": "0",
                                                 "Content-Type": "image/png"})
    assert r.status_code == 415
    assert client.patch(url, content=data, headers={**lib.headers, **CHUNK}).status_code == 400
    r = client.head(url, headers=lib.headers)
    assert r.status_code == 412 and r.headers["tus-version"] == "1.0.0"
    assert tus.patch(url, 0, data + b"more").status_code == 413
    assert tus.offset(url) == 0


def test_a_file_of_an_unsupported_type_is_refused_from_its_first_bytes(tus: Tus, database,  # type: ignore[no-untyped-def]
                                                                      lib: Library) -> None:
    url = tus.new(100_000)
    r = tus.patch(url, 0, b"<html>" + b"x" * 5000)
    assert r.status_code == 415, r.text
    assert _state(database, url) is None and lib.names() == []


def test_termination_removes_the_upload(tus: Tus, lib: Library, client, database,  # type: ignore[no-untyped-def]
                                        settings) -> None:
    url = tus.new(1000)
    assert tus.patch(url, 0, _photo()[:100]).status_code == 204
    state = _state(database, url)
    assert state is not None
    assert client.delete(url, headers=lib.headers).status_code == 412
    r = client.delete(url, headers={**lib.headers, **TUS})
    assert r.status_code == 204 and r.headers["tus-resumable"] == "1.0.0"
    assert tus.head(url).status_code == 404 and not _part_exists(settings, state[0])
    assert client.delete(url, headers={**lib.headers, **TUS}).status_code == 404


def test_a_patch_while_another_writes_is_a_423(tus: Tus, database) -> None:  # type: ignore[no-untyped-def]
    data = _photo()
    url = tus.new(len(data))
    with database.system_sessions() as s:  # what a PATCH in progress holds
        s.execute(text("SELECT 1 FROM tus_uploads WHERE id = :id FOR UPDATE"),
                  {"id": url.rsplit("/", 1)[1]})
        r = tus.patch(url, 0, data[:100])
        assert r.status_code == 423 and "HEAD" in r.json()["message"], r.text
    assert tus.offset(url) == 0
    assert tus.patch(url, 0, data[:100]).status_code == 204


def test_another_organizations_upload_is_not_found(tus: Tus, client, make_member) -> None:  # type: ignore[no-untyped-def]
    url = tus.new(1000)
    other = Library(client, make_member())
    for method in ("HEAD", "GET", "DELETE"):
        r = client.request(method, url, headers={**other.headers, **TUS})
        assert r.status_code == 404, method
    r = client.patch(url, content=b"x", headers={**other.headers, **CHUNK,
                                                 "Upload-Offset": "0"})
    assert r.status_code == 404
    assert tus.create(10, datasetId=other.id).status_code == 404
    assert tus.offset(url) == 0


def test_get_before_the_end_is_a_409(tus: Tus, client, lib: Library) -> None:  # type: ignore[no-untyped-def]
    url = tus.new(1000)
    r = client.get(url, headers=lib.headers)
    assert r.status_code == 409 and "0 of 1,000" in r.json()["message"]


def _recorded_but_not_finished(client, database, url: str, data: bytes) -> str:  # type: ignore[no-untyped-def]
    """What a PATCH leaves when its server is killed right after it recorded the last byte:
    every byte stored and counted, no media (tus.append, then no tus.finish). Its state."""
    from coreviz_studio.storage.base import resumable_append

    state, offset = _state(database, url) or ("", 0)
    state = resumable_append(client.app.state.blobs, state, offset, io.BytesIO(data[offset:]))
    with database.system_sessions() as s:
        s.execute(text("UPDATE tus_uploads SET store_state = :s, \"offset\" = :o WHERE id = :id"),
                  {"s": state, "o": len(data), "id": url.rsplit("/", 1)[1]})
        s.commit()
    return state


@pytest.mark.parametrize("ask", ["HEAD", "GET", "PATCH"])
def test_an_upload_whose_server_died_after_its_last_byte_is_finished_when_asked(  # type: ignore[no-untyped-def]
        tus: Tus, lib: Library, client, database, ask: str) -> None:
    data = media_files.image("PNG", size=(120, 90), noise=True)
    url = tus.new(len(data))
    assert tus.patch(url, 0, data[:5000]).status_code == 204
    _recorded_but_not_finished(client, database, url, data)
    # A tus client resumes with HEAD and, seeing the whole length, sends nothing more: the
    # upload must become media there (or on GET, or on an empty PATCH at its end).
    if ask == "HEAD":
        r = tus.head(url)
    elif ask == "GET":
        r = client.get(url, headers=lib.headers)
    else:
        r = tus.patch(url, len(data), b"")
    assert r.status_code in (200, 204), r.text
    media_id = r.headers["coreviz-media-id"]
    assert lib.media(media_id)["sha256"] == hashlib.sha256(data).hexdigest()
    assert tus.head(url).headers["coreviz-media-id"] == media_id  # once, not twice
    assert client.get(url, headers=lib.headers).json()["mediaId"] == media_id
    assert tus.patch(url, len(data), b"more").status_code == 413


def test_a_finish_cut_off_after_the_store_made_the_blob_is_done_again(  # type: ignore[no-untyped-def]
        tus: Tus, lib: Library, client, database, settings) -> None:
    from coreviz_studio.blobs import refs

    data = media_files.image("PNG", size=(120, 90), noise=True)
    url = tus.new(len(data))
    assert tus.patch(url, 0, data[:5000]).status_code == 204
    state = _recorded_but_not_finished(client, database, url, data)
    store = client.app.state.blobs
    key = store.resumable_finish(state, "png")  # then the server was killed: no media row
    assert not _part_exists(settings, state) and not refs.holders(database, [key])
    r = tus.head(url)
    assert r.status_code == 200, r.text
    media = lib.media(r.headers["coreviz-media-id"])
    assert media["sha256"] == hashlib.sha256(data).hexdigest()
    assert key in media["blob"] and b"".join(store.read(key)) == data
    assert store.resumable_finish(state, "png") == key  # idempotent
