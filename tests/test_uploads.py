from __future__ import annotations

import hashlib
import time

import pytest

from tests import media_files
from tests.library import Library


@pytest.fixture
def lib(client, make_member) -> Library:  # type: ignore[no-untyped-def]
    return Library(client, make_member())


def _blob_files(settings) -> set[str]:  # type: ignore[no-untyped-def]
    root = settings.effective_blob_dir()
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(("fmt", "mime", "ext"), [
    ("JPEG", "image/jpeg", "jpg"), ("PNG", "image/png", "png"), ("WEBP", "image/webp", "webp"),
    ("GIF", "image/gif", "gif"), ("BMP", "image/bmp", "bmp"), ("TIFF", "image/tiff", "tif"),
    ("HEIF", "image/heic", "heic"),
])
def test_images_of_every_format(lib: Library, fmt: str, mime: str, ext: str) -> None:
    data = media_files.image(fmt, size=(80, 30))
    # The name lies about the type: the content decides.
    media = lib.upload(data, "holiday.pdf")
    assert media["type"] == "image" and media["mimeType"] == mime
    assert (media["width"], media["height"]) == (80, 30)
    assert media["sizeBytes"] == len(data)
    assert media["sha256"] == hashlib.sha256(data).hexdigest()
    assert media["name"] == "holiday.pdf"
    assert media["blob"].endswith(f".{ext}")
    assert media["metadata"]["processing"]["status"] == "queued"
    assert media["frames"] == [] and media["status"] == "active"
    assert media["path"] == f"{lib.root}.{media['id'].replace('-', '')}"


@pytest.mark.parametrize(("container", "codec", "mime"), [
    ("mp4", "libx264", "video/mp4"), ("mov", "libx264", "video/quicktime"),
    ("webm", "libvpx-vp9", "video/webm"), ("matroska", "libx264", "video/x-matroska"),
])
def test_videos_of_every_container(lib: Library, tmp_path, container: str, codec: str,  # type: ignore[no-untyped-def]
                                   mime: str) -> None:
    data = media_files.video(tmp_path / f"v.{container}", container, codec, seconds=2.0)
    media = lib.upload(data, "clip.jpg")
    assert media["type"] == "video" and media["mimeType"] == mime
    assert (media["width"], media["height"]) == (64, 48)
    assert media["duration"] == pytest.approx(2.0, abs=0.25)


def test_pdf_page_count(lib: Library) -> None:
    media = lib.upload(media_files.pdf(pages=3), "report.png")
    assert media["type"] == "pdf" and media["mimeType"] == "application/pdf"
    assert media["pageCount"] == 3
    assert (media["width"], media["height"]) == (612, 792)


def test_exif_orientation_swaps_dimensions(lib: Library) -> None:
    media = lib.upload(media_files.image("JPEG", size=(80, 30), orientation=6))
    assert (media["width"], media["height"]) == (30, 80)
    assert media["exif"]["tags"]["Orientation"] == 6
    assert media["exif"]["tags"]["Make"] == "TestCam"  # NUL padding removed


def test_blob_is_served_byte_for_byte_with_range_and_etag(lib: Library, client) -> None:  # type: ignore[no-untyped-def]
    data = media_files.image("PNG", size=(300, 200))
    media = lib.upload(data, "x.png")
    path = "/" + media["blob"].split("/", 3)[3]
    r = client.get(path)  # public: no credentials
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == "image/png"
    assert r.headers["x-content-type-options"] == "nosniff"
    etag = r.headers["etag"]
    head = client.head(path)
    assert head.status_code == 200 and head.headers["content-length"] == str(len(data))
    assert client.get(path, headers={"if-none-match": etag}).status_code == 304
    r = client.get(path, headers={"range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == data[10:20]
    assert r.headers["content-range"] == f"bytes 10-19/{len(data)}"
    assert client.get(path, headers={"if-none-match": f'"x", {etag}'}).status_code == 304
    r = client.get(path, headers={"range": "bytes=-16"})  # the last 16 bytes
    assert r.status_code == 206 and r.content == data[-16:]
    r = client.get(path, headers={"range": f"bytes={len(data) - 5}-"})
    assert r.status_code == 206 and r.content == data[-5:]
    r = client.get(path, headers={"range": "bytes=0-4", "if-range": '"another"'})
    assert r.status_code == 200 and r.content == data  # If-Range no longer matches: all of it
    r = client.get(path, headers={"range": "bytes=0-4", "if-range": etag})
    assert r.status_code == 206 and r.content == data[:5]
    r = client.get(path, headers={"range": f"bytes={len(data)}-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{len(data)}"
    for bad_range in ("bytes=abc", "bytes=5-2", "items=0-5"):  # ignored, as RFC 9110 says
        r = client.get(path, headers={"range": bad_range})
        assert r.status_code == 200 and r.content == data
    assert client.get(path.replace(path[-12:-4], "00000000")).status_code == 404
    assert client.get("/blobs/../../etc/passwd").status_code == 404
    assert client.get("/blobs/tmp/x").status_code == 404


def test_upload_into_a_folder_and_naming(lib: Library) -> None:
    folder = lib.folder("Trips")
    media = lib.upload(media_files.image(), "a.jpg", path=folder["path"], name="../../etc/passwd")
    assert media["path"].startswith(folder["path"] + ".")
    assert media["name"] == "passwd"
    media = lib.upload(media_files.image(), "C:\\Users\\me\\IMG_1.JPG")
    assert media["name"] == "IMG_1.JPG"


@pytest.mark.parametrize(("data", "status", "words"), [
    (b"", 422, "empty"),
    (b"just some text pretending to be a photo", 415, "Unsupported file type"),
    (b"<html><script>alert(1)</script></html>", 415, "Unsupported file type"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 50, 422, "not a readable image"),
    (b"%PDF-1.7\n garbage", 422, "not a readable document"),
    (b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100, 422, "not a readable video"),
])
def test_hostile_files_are_refused_and_leave_nothing(lib: Library, settings, data: bytes,  # type: ignore[no-untyped-def]
                                                     status: int, words: str) -> None:
    before = _blob_files(settings)
    r = lib.upload_raw(data, "photo.jpg")
    assert r.status_code == status, r.text
    assert words in r.json()["message"]
    assert str(settings.effective_blob_dir()) not in r.json()["message"]
    assert r.json()["error"]
    assert _blob_files(settings) == before
    assert lib.browse()["pagination"]["total"] == 0


def test_truncated_image_is_stored_for_processing_to_judge(lib: Library) -> None:
    data = media_files.image("JPEG", size=(200, 100), noise=True)
    media = lib.upload(data[: len(data) // 2])
    assert (media["width"], media["height"]) == (200, 100)


@pytest.mark.parametrize("side", [15000, 30000])
def test_decompression_bomb_refused_fast_without_decoding(lib: Library, settings,  # type: ignore[no-untyped-def]
                                                          side: int) -> None:
    before = _blob_files(settings)
    started = time.perf_counter()
    r = lib.upload_raw(media_files.png_bomb(side, side), "tiny.png")
    elapsed = time.perf_counter() - started
    assert r.status_code == 413, r.text
    assert "COREVIZ_MAX_IMAGE_PIXELS" in r.json()["message"]
    assert elapsed < 1.0
    assert _blob_files(settings) == before


def test_size_limit_is_413_and_stores_nothing(client, make_member, settings) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from coreviz_studio.app import create_app

    small = settings.model_copy(update={"max_upload_bytes": 1000})
    member = make_member()
    with TestClient(create_app(small, client.app.state.db), raise_server_exceptions=False) as c:
        lib = Library(c, member)
        before = _blob_files(settings)
        r = lib.upload_raw(media_files.image("PNG", size=(400, 400)), "big.png")
        assert r.status_code == 413, r.text
        assert "1,000 bytes" in r.json()["message"]

        def chunks():  # type: ignore[no-untyped-def]  # no Content-Length: the count decides
            boundary = "b0undary"
            yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"datasetId\"\r\n\r\n"
                   f"{lib.id}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                   "filename=\"x.png\"\r\n\r\n").encode()
            for _ in range(100):
                yield b"\x89PNG\r\n\x1a\n" * 100
        r = c.post("/api/upload/multipart", headers={
            **member.headers, "content-type": "multipart/form-data; boundary=b0undary"},
            content=chunks())
        assert r.status_code == 413
        assert _blob_files(settings) == before
        assert lib.upload_raw(media_files.image("PNG", size=(4, 4)), "ok.png").status_code == 201


@pytest.mark.parametrize(("content_type", "body", "status"), [
    ("multipart/form-data", b"--x\r\n", 400),  # no boundary
    ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; name=\"file\"; "
     b"filename=\"a.jpg\"\r\n\r\n\xff\xd8\xff\xe0", 400),  # ends before its closing boundary
    ("multipart/form-data; boundary=x", b"garbage without any boundary", 400),
    ("application/json", b"{}", 415),
    ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; "
     b"name=\"datasetId\"\r\n\r\nabc\r\n--x--\r\n", 422),  # no file
])
def test_malformed_multipart(lib: Library, client, settings, content_type: str, body: bytes,  # type: ignore[no-untyped-def]
                             status: int) -> None:
    before = _blob_files(settings)
    r = client.post("/api/upload/multipart", content=body,
                    headers={**lib.headers, "content-type": content_type})
    assert r.status_code == status, r.text
    assert r.json()["message"]
    assert _blob_files(settings) == before


def test_bad_fields(lib: Library, client, make_member) -> None:  # type: ignore[no-untyped-def]
    data = media_files.image()
    assert lib.upload_raw(data, datasetId="nope").status_code == 400
    other = Library(client, make_member())
    r = lib.upload_raw(data, datasetId=other.id)  # another organization's collection
    assert r.status_code == 404 and r.json()["message"] == "Dataset not found"
    assert other.browse()["pagination"]["total"] == 0
    assert lib.upload_raw(data, path="not.a.path").status_code == 400
    assert lib.upload_raw(data, path=f"{lib.root}.{'0' * 32}").status_code == 404
    # Well formed, but no folder of this collection: not found (as another organization's ids).
    assert lib.upload_raw(data, path=other.root).status_code == 404
    assert lib.upload_raw(data, colour="red").status_code == 422
    r = client.post("/api/upload/multipart", data={"datasetId": lib.id},
                    files={"file": ("a.jpg", data)})
    assert r.status_code == 401


def test_viewer_cannot_upload(client, make_member) -> None:  # type: ignore[no-untyped-def]
    owner = make_member(org="Upload Viewers")
    lib = Library(client, owner)
    viewer = make_member(org="Upload Viewers", role="viewer")
    assert viewer.org_id == owner.org_id
    r = client.post("/api/upload/multipart", headers=viewer.headers, data={"datasetId": lib.id},
                    files={"file": ("a.jpg", media_files.image())})
    assert r.status_code == 403


def test_failed_commit_removes_the_blob(lib: Library, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A blob written for a row that never commits is removed again."""
    from sqlalchemy.orm import Session

    before = _blob_files(settings)
    real_commit = Session.commit

    def failing_commit(self: Session) -> None:
        raise RuntimeError("the disk holding the database is full")

    monkeypatch.setattr(Session, "commit", failing_commit)
    r = lib.upload_raw(media_files.image())
    monkeypatch.setattr(Session, "commit", real_commit)
    assert r.status_code == 500
    assert _blob_files(settings) == before
    assert lib.browse()["pagination"]["total"] == 0


def test_no_connection_idles_in_a_transaction_while_a_file_streams(lib: Library, client,  # type: ignore[no-untyped-def]
                                                                   database) -> None:
    from sqlalchemy import text

    seen: list[int] = []

    def body():  # type: ignore[no-untyped-def]
        yield (f"--b\r\nContent-Disposition: form-data; name=\"datasetId\"\r\n\r\n{lib.id}\r\n"
               "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"
               "\r\n").encode()
        yield media_files.image("PNG")
        with database.engine.connect() as conn:  # the server is now waiting for more bytes
            seen.append(conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'"
                " AND datname = current_database() AND pid <> pg_backend_pid()")).scalar_one())
        yield b"\r\n--b--\r\n"

    r = client.post("/api/upload/multipart", content=body(),
                    headers={**lib.headers, "content-type": "multipart/form-data; boundary=b"})
    assert r.status_code == 201, r.text
    assert seen == [0]
