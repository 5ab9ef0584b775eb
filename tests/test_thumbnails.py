"""Thumbnails, through the real pipeline: what each kind of item gets (an upright photo, a
video's poster, a PDF's first page, the awkward pixel formats), the `thumbnail` field on every
media answer, the year-long cache, 404 after a trash, gone after a purge, a new key per
reprocess, a failure that fails nothing, private blobs, and the backfill of older items."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageChops, ImageStat
from sqlalchemy import text
from typer.testing import CliRunner

from coreviz_studio.app import create_app
from coreviz_studio.cli import app as cli
from coreviz_studio.lifecycle import sweep
from coreviz_studio.pipeline import thumbnail
from tests import media_files
from tests.jobs import drain, jobs_of, pipeline
from tests.library import Library

YEAR = "public, max-age=31536000, immutable"


@pytest.fixture
def lib(client, make_member) -> Library:  # type: ignore[no-untyped-def]
    return Library(client, make_member())


def _path(url: str) -> str:
    """/blobs/<key>?... of an absolute blob URL, for the test client."""
    return "/" + url.split("//", 1)[1].split("/", 1)[1]


def _key(url: str) -> str:
    return _path(url).removeprefix("/blobs/").split("?")[0]


def _processed(lib: Library, settings, database, *ids: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    drain(pipeline(settings, database, models="none"), list(ids))
    return [lib.media(i) for i in ids]


def _picture(client: TestClient, url: str) -> Image.Image:
    r = client.get(_path(url))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/webp"
    img = Image.open(io.BytesIO(r.content))
    assert img.format == "WEBP"
    return img.convert("RGB")


def _halves(size: tuple[int, int], orientation: int) -> bytes:
    """A JPEG whose left half is red and right half blue, with that EXIF orientation."""
    img = Image.new("RGB", size, (220, 20, 20))
    img.paste((20, 20, 220), (size[0] // 2, 0, size[0], size[1]))
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    img.save(out, "JPEG", quality=95, exif=exif.tobytes())
    return out.getvalue()


def _near(pixel: tuple[int, ...], colour: tuple[int, int, int], slack: int = 40) -> bool:
    return all(abs(a - b) <= slack for a, b in zip(pixel, colour, strict=False))


def test_a_photo_gets_an_upright_webp_on_every_answer(lib: Library, settings, database) -> None:  # type: ignore[no-untyped-def]
    uploaded = lib.upload(_halves((1200, 900), orientation=6), "turned-zebra.jpg")
    assert uploaded["thumbnail"] is None  # not made yet
    [media] = _processed(lib, settings, database, uploaded["id"])
    url = media["thumbnail"]
    assert url and url.startswith("http") and "/blobs/" in url
    assert url != media["frames"][0]["thumbnailBlob"]  # the item's own, not a frame's
    img = _picture(lib.client, url)
    # Orientation 6 turns the picture a quarter clockwise: it stands, left half now on top.
    assert img.size == (thumbnail.MAX_SIDE * 3 // 4, thumbnail.MAX_SIDE)
    assert _near(img.getpixel((img.width // 2, 20)), (220, 20, 20))
    assert _near(img.getpixel((img.width // 2, img.height - 20)), (20, 20, 220))

    # The same URL on every answer that carries the item.
    [browsed] = [m for m in lib.browse(limit=100)["media"] if m["id"] == media["id"]]
    assert browsed["thumbnail"] == url
    scored = lib.browse(q="zebra")["media"]
    assert [m["thumbnail"] for m in scored if m["id"] == media["id"]] == [url]
    r = lib.client.get("/api/search", headers=lib.headers,
                       params={"q": "zebra", "organizationId": lib.member.org_id})
    assert r.status_code == 200, r.text
    assert [h["thumbnail"] for h in r.json()["results"]
            if h["media"]["id"] == media["id"]] == [url]
    r = lib.client.get(f"/api/media/{media['id']}/versions", headers=lib.headers)
    assert [v["thumbnail"] for v in r.json()["versions"]] == [url]
    assert lib.folder("Box")["id"]
    [box] = [m for m in lib.browse(limit=100)["media"] if m["type"] == "folder"]
    assert box["thumbnail"] is None


def test_awkward_pixels_make_sensible_thumbnails(lib: Library, settings, database) -> None:  # type: ignore[no-untyped-def]
    # Transparent: laid on white, never black.
    clear = Image.new("RGBA", (500, 500), (0, 0, 0, 0))
    clear.paste((0, 128, 0, 255), (0, 0, 250, 500))
    # 16-bit grey, a ramp over the full range: Pillow's own conversion turns it white.
    ramp = Image.fromarray(np.tile(np.linspace(0, 65535, 640).astype(np.uint16), (480, 1)))
    assert ramp.mode == "I;16"
    # CMYK (print), and a palette GIF.
    cmyk = Image.new("CMYK", (600, 400), (0, 255, 255, 0))  # red ink
    palette = Image.new("RGB", (300, 200), (250, 200, 0)).convert("P", palette=Image.ADAPTIVE)
    files = {}
    for name, img, fmt in (("clear.png", clear, "PNG"), ("ramp.png", ramp, "PNG"),
                           ("print.jpg", cmyk, "JPEG"), ("paint.gif", palette, "GIF")):
        out = io.BytesIO()
        img.save(out, fmt)
        files[name] = lib.upload(out.getvalue(), name)["id"]
    media = dict(zip(files, _processed(lib, settings, database, *files.values()), strict=True))
    pictures = {name: _picture(lib.client, m["thumbnail"]) for name, m in media.items()}

    clear_t = pictures["clear.png"]
    assert clear_t.size == (400, 400)
    assert _near(clear_t.getpixel((300, 200)), (255, 255, 255), 10)
    assert _near(clear_t.getpixel((100, 200)), (0, 128, 0))
    ramp_t = pictures["ramp.png"].convert("L")
    assert ramp_t.size == (400, 300)
    assert ramp_t.getpixel((5, 150)) < 30 and ramp_t.getpixel((394, 150)) > 225
    assert 100 < ImageStat.Stat(ramp_t).mean[0] < 155  # a ramp, not a white sheet
    assert _near(pictures["print.jpg"].getpixel((200, 100)), (255, 0, 0), 50)
    assert pictures["print.jpg"].size == (400, 267)
    assert _near(pictures["paint.gif"].getpixel((150, 100)), (250, 200, 0), 30)
    assert pictures["paint.gif"].size == (300, 200)  # never enlarged


def _distance(a: Image.Image, b: Image.Image) -> float:
    return float(np.mean(ImageStat.Stat(ImageChops.difference(a, b.resize(a.size))).mean))


def _frame_picture(client: TestClient, url: str) -> Image.Image:
    r = client.get(_path(url))
    assert r.status_code == 200
    return Image.open(io.BytesIO(r.content)).convert("RGB")


def test_a_video_poster_skips_black_and_a_pdf_shows_its_first_page(  # type: ignore[no-untyped-def]
        lib: Library, settings, database, tmp_path: Path) -> None:
    clip = lib.upload(media_files.video_from_black(tmp_path / "v.mp4"), "fade.mp4")
    doc = lib.upload(media_files.pdf_with_text(["Quarterly report of the year, page one", "B"]),
                     "report.pdf")
    clip, doc = _processed(lib, settings, database, clip["id"], doc["id"])

    poster = _picture(lib.client, clip["thumbnail"])
    black, scene = (_frame_picture(lib.client, f["blob"]) for f in clip["frames"][:2])
    assert _distance(poster, scene) < 10 < _distance(poster, black)
    assert poster.size == (160, 120)  # never enlarged

    page = _picture(lib.client, doc["thumbnail"])
    first, second = (_frame_picture(lib.client, f["blob"]) for f in doc["frames"])
    assert page.size == (309, 400)  # a Letter page, upright
    assert _distance(page, first) < _distance(page, second)
    assert page.convert("L").getextrema()[0] < 100  # the text is there


def test_year_long_cache_yet_404_after_trash_and_gone_after_purge(lib: Library, settings,  # type: ignore[no-untyped-def]
                                                                  database) -> None:
    [media] = _processed(lib, settings, database, lib.upload(media_files.image(), "t.jpg")["id"])
    url = _path(media["thumbnail"])
    r = lib.client.get(url)
    assert r.status_code == 200 and r.headers["cache-control"] == YEAR
    assert lib.client.head(url).headers["cache-control"] == YEAR
    # The rest of the item's blobs keep asking again each time.
    assert lib.client.get(_path(media["blob"])).headers["cache-control"] == "public, no-cache"

    c = lib.client
    assert c.delete(f"/api/media/{media['id']}", headers=lib.headers).status_code == 200
    assert c.get(url).status_code == 404 and c.head(url).status_code == 404
    assert c.post(f"/api/media/{media['id']}/restore", headers=lib.headers).status_code == 200
    assert c.get(url).status_code == 200

    store, key = pipeline(settings, database).store, _key(media["thumbnail"])
    assert store.stat(key) is not None
    r = c.delete(f"/api/media/{media['id']}", headers=lib.headers, params={"permanent": "true"})
    assert r.status_code == 200, r.text
    drain(pipeline(settings, database, models="none"), [media["id"]])
    assert store.stat(key) is None
    assert key not in {b.key for b in store.list_blobs()}


def test_the_sweep_counts_thumbnails_as_held(lib: Library, settings, database) -> None:  # type: ignore[no-untyped-def]
    [media] = _processed(lib, settings, database, lib.upload(media_files.image(), "s.jpg")["id"])
    store, key = pipeline(settings, database).store, _key(media["thumbnail"])
    later = datetime.now(UTC) + timedelta(hours=settings.orphan_grace_hours, minutes=1)
    sweep.sweep_orphans(database, store, timedelta(hours=settings.orphan_grace_hours), later)
    assert store.stat(key) is not None


def test_a_reprocess_makes_a_new_key_and_drops_the_old_blob(lib: Library, settings,  # type: ignore[no-untyped-def]
                                                            database) -> None:
    [before] = _processed(lib, settings, database, lib.upload(media_files.image(), "r.jpg")["id"])
    r = lib.client.post(f"/api/media/{before['id']}/reprocess", headers=lib.headers)
    assert r.status_code == 202
    [after] = _processed(lib, settings, database, before["id"])
    assert after["thumbnail"] and after["thumbnail"] != before["thumbnail"]
    store = pipeline(settings, database).store
    assert store.stat(_key(before["thumbnail"])) is None  # a key is never served twice
    assert lib.client.get(_path(before["thumbnail"])).status_code == 404
    assert lib.client.get(_path(after["thumbnail"])).headers["cache-control"] == YEAR


def _fail_thumbnails(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(frame: Path, dest: Path) -> None:
        raise OSError("an odd picture")

    monkeypatch.setattr(thumbnail, "render", broken)


def test_a_failing_thumbnail_fails_nothing_and_the_backfill_makes_it(  # type: ignore[no-untyped-def]
        lib: Library, settings, database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    photo = lib.upload(media_files.image("PNG", (500, 300)), "late.png")
    clip = lib.upload(media_files.video_from_black(tmp_path / "v.mp4"), "late.mp4")
    waiting = lib.upload(media_files.image(), "unprocessed.jpg")  # not processed: nothing to do
    lib.folder("Box")
    _fail_thumbnails(monkeypatch)
    photo, clip = _processed(lib, settings, database, photo["id"], clip["id"])
    for media in (photo, clip):  # the item is ready, with its frames; only the field is null
        assert media["metadata"]["processing"]["status"] == "ready" and media["frames"]
        assert media["thumbnail"] is None
    monkeypatch.undo()

    runner = CliRunner()
    done = runner.invoke(cli, ["thumbnails", "--collection", lib.id])
    assert done.exit_code == 0 and "queued thumbnails for 2 media" in done.output, done.output
    again = runner.invoke(cli, ["thumbnails", "--collection", lib.id])
    assert "queued thumbnails for 0 media" in again.output, again.output  # already waiting
    assert [j["status"] for j in jobs_of(database, photo["id"])] == ["todo"]
    assert jobs_of(database, waiting["id"])[-1]["status"] == "todo"  # its processing job only
    assert len(jobs_of(database, waiting["id"])) == 1

    drain(pipeline(settings, database, models="none"), [photo["id"], clip["id"]])
    photo, clip = lib.media(photo["id"]), lib.media(clip["id"])
    assert _picture(lib.client, photo["thumbnail"]).size == (400, 240)
    poster = _picture(lib.client, clip["thumbnail"])
    scene = _frame_picture(lib.client, clip["frames"][1]["blob"])
    assert _distance(poster, scene) < 10  # the same choice of poster as processing makes
    assert lib.client.get(_path(photo["thumbnail"])).headers["cache-control"] == YEAR
    assert photo["metadata"]["processing"]["status"] == "ready"  # not processed again
    done = runner.invoke(cli, ["thumbnails", "--collection", lib.id])
    assert "queued thumbnails for 0 media" in done.output, done.output  # nothing is missing
    refused = runner.invoke(cli, ["thumbnails", "--collection", "nope"])
    assert refused.exit_code == 1 and "dataset" in refused.output


def test_the_backfill_never_overwrites_or_revives(lib: Library, settings, database,  # type: ignore[no-untyped-def]
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from coreviz_studio.pipeline import missing_thumbnails

    trashed = lib.upload(media_files.image(), "trashed.jpg")
    made = lib.upload(media_files.image(), "made.jpg")
    _fail_thumbnails(monkeypatch)
    _processed(lib, settings, database, trashed["id"], made["id"])
    monkeypatch.undo()
    with database.system_sessions() as session:  # every collection: these two at least
        assert missing_thumbnails.enqueue_missing(session) >= 2
        session.rollback()
    with database.system_sessions() as session:
        assert missing_thumbnails.enqueue_missing(session, uuid.UUID(lib.id)) == 2
        session.commit()
    # Before the jobs run: one item goes to the trash, the other gets a thumbnail another way.
    lib.client.delete(f"/api/media/{trashed['id']}", headers=lib.headers)
    with database.engine.begin() as c:
        c.execute(text("UPDATE media SET thumbnail_key = 'ab/' || repeat('a', 32) || '.webp' "
                       "WHERE id = :i"), {"i": made["id"]})
    store = pipeline(settings, database).store
    before = {b.key for b in store.list_blobs()}
    drain(pipeline(settings, database, models="none"), [trashed["id"], made["id"]])
    with database.engine.connect() as c:
        keys = dict(c.execute(text("SELECT id::text, thumbnail_key FROM media "
                                   "WHERE id = ANY(:ids)"),
                              {"ids": [trashed["id"], made["id"]]}).all())
    assert keys == {trashed["id"]: None, made["id"]: "ab/" + "a" * 32 + ".webp"}
    assert {b.key for b in store.list_blobs()} <= before  # no blob was left behind


@pytest.fixture(scope="module")
def private_client(settings, database) -> Any:  # type: ignore[no-untyped-def]
    app = create_app(settings.model_copy(update={"private_blobs": True}), database)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_private_thumbnails_need_a_signature_and_stay_in_one_browser(  # type: ignore[no-untyped-def]
        private_client, make_member, settings, database) -> None:
    lib = Library(private_client, make_member())
    [media] = _processed(lib, settings, database, lib.upload(media_files.image(), "p.jpg")["id"])
    signed = _path(media["thumbnail"])
    assert "signature=" in signed
    r = private_client.get(signed)
    assert r.status_code == 200 and r.headers["cache-control"] == (
        "private, max-age=31536000, immutable")
    assert private_client.get(signed.split("?")[0]).status_code == 401
    assert private_client.get(signed.split("?")[0], headers=make_member().headers
                              ).status_code == 404
    private_client.delete(f"/api/media/{media['id']}", headers=lib.headers)
    assert private_client.get(signed).status_code == 404


def test_thumbnails_on_s3_are_stored_streamed_and_purged(s3_server, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                         database, make_member) -> None:
    from coreviz_studio.pipeline.process import Pipeline

    # Redirects on: originals go to S3 directly, thumbnails never (their cache needs our URL).
    settings = s3_server.settings(tmp_path / "data", blob_redirect=True, models="none")
    with TestClient(create_app(settings, database), raise_server_exceptions=False) as client:
        store = client.app.state.blobs  # type: ignore[attr-defined]
        assert store.kind == "s3"
        lib = Library(client, make_member())
        media = lib.upload(_halves((800, 600), orientation=1), "bucket.jpg")
        drain(Pipeline(database, store, settings), [media["id"]])
        media = lib.media(media["id"])
        key = _key(media["thumbnail"])
        assert store.stat(key) is not None and key in {b.key for b in store.list_blobs()}
        r = client.get(_path(media["thumbnail"]), follow_redirects=False)
        assert r.status_code == 200 and r.headers["cache-control"] == YEAR
        assert Image.open(io.BytesIO(r.content)).size == (400, 300)
        assert client.get(_path(media["blob"]), follow_redirects=False).status_code == 307
        r = client.delete(f"/api/media/{media['id']}", headers=lib.headers,
                          params={"permanent": "true"})
        assert r.status_code == 200, r.text
        drain(Pipeline(database, store, settings), [media["id"]])
        assert store.stat(key) is None
