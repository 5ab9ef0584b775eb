"""The media view (/m/{id}) in a real browser, on real files through the real pipeline (the
offline models, and the COCO detector from ../shared/models when it is there): the zoomable
photo with its boxes, the video that seeks to a frame, the PDF's pages, versions, tags, rename,
move, delete, the live processing state, and a phone-sized screen."""

from __future__ import annotations

import re
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests import media_files
from tests.browser import PHONE, open_context, shot, sign_in
from tests.conftest import PASSWORD
from tests.jobs import drain, pipeline

pytestmark = pytest.mark.usefixtures("fresh_sign_in_limits")

# ../shared/models of the checkout (or of the folder a worktree of it sits in).
DETECTOR = next((up / "shared" / "models" / "nanodet-coco-416.onnx"
                 for up in Path(__file__).resolve().parents
                 if (up / "shared" / "models" / "nanodet-coco-416.onnx").exists()),
                Path("/nonexistent"))


class Owner:
    """A person who signs in, with an API client of their own on the Studio server."""

    def __init__(self, studio: Any, member: Any) -> None:
        self.member = member
        self.email = member.email
        self.api = httpx.Client(base_url=studio.url, headers=member.headers, timeout=60)
        made = self.api.post(f"/api/organization/{member.org_id}/datasets", json={"name": "Trips"})
        assert made.status_code == 201, made.text
        self.dataset = made.json()["id"]

    def upload(self, data: bytes, filename: str, **fields: str) -> str:
        up = self.api.post("/api/upload/multipart", data={"datasetId": self.dataset, **fields},
                           files={"file": (filename, data)})
        assert up.status_code in (200, 201), up.text
        return str(up.json()["mediaId"])

    def media(self, media_id: str) -> dict[str, Any]:
        got = self.api.get(f"/api/media/{media_id}")
        assert got.status_code == 200, got.text
        return got.json()["media"]  # type: ignore[no-any-return]


def _owner(studio, make_member, database) -> Owner:  # type: ignore[no-untyped-def]
    from coreviz_studio.accounts import service as accounts

    member = make_member()
    with database.sessions() as s:
        accounts.set_password(s, member.email, PASSWORD)
        s.commit()
    return Owner(studio, member)


def _drain(studio, settings, database, ids: list[str], models_dir: Path | None = None,  # type: ignore[no-untyped-def]
           **overrides: Any) -> None:
    """The real pipeline, on the Studio server's own blob directory. In a thread of its own:
    the worker runs an asyncio loop, and Playwright's sync API holds one in this thread."""
    extra = {"models_dir": models_dir} if models_dir else {}
    pipe = pipeline(settings, database, blob_dir=studio.data_dir / "blobs", **extra, **overrides)
    with ThreadPoolExecutor(1) as pool:
        pool.submit(drain, pipe, ids).result()


def _portrait_video(path: Path, seconds: float = 2.0, fps: int = 5) -> bytes:
    """A short video of the astronaut photo (a face the offline face model finds)."""
    import io

    import av
    from PIL import Image

    still = Image.open(io.BytesIO(media_files.photo("astronaut"))).convert("RGB")
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height = still.size
        stream.pix_fmt = "yuv420p"
        for _ in range(int(seconds * fps)):
            for packet in stream.encode(av.VideoFrame.from_image(still)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.read_bytes()


@pytest.fixture(scope="module")
def library(studio, make_member_module, settings, database, tmp_path_factory):  # type: ignore[no-untyped-def]
    """A photo with a face (and a person, with the detector), a video with a cut, a 3-page
    PDF, all processed by the real pipeline with the offline models."""
    owner = _owner(studio, make_member_module, database)
    models = tmp_path_factory.mktemp("models")
    if DETECTOR.exists():
        (models / "objects").mkdir()
        shutil.copy(DETECTOR, models / "objects" / DETECTOR.name)
    clip = media_files.video_with_cut(tmp_path_factory.mktemp("v") / "cut.mp4", cut_at=2.0,
                                      seconds=4.0)
    ids = {
        "photo": owner.upload(media_files.photo("astronaut"), "astronaut.jpg"),
        "video": owner.upload(clip, "cut.mp4"),
        "portrait": owner.upload(_portrait_video(tmp_path_factory.mktemp("p") / "p.mp4"),
                                 "portrait.mp4"),
        "pdf": owner.upload(media_files.pdf_with_text(["First page", "Second page",
                                                       "Third page"]), "notes.pdf"),
    }
    _drain(studio, settings, database, list(ids.values()), models)
    return owner, {name: owner.media(media_id) for name, media_id in ids.items()}


def _box_size(page) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    box = page.get_by_test_id("box").first.bounding_box()
    assert box is not None
    return box["width"], box["height"]


def test_photo_boxes_hover_and_zoom(studio_page, library) -> None:  # type: ignore[no-untyped-def]
    owner, media = library
    photo = media["photo"]
    [frame] = photo["frames"]
    page = studio_page
    sign_in(page, owner.email, PASSWORD, f"/m/{photo['id']}")
    expect(page).to_have_url(re.compile(f"/m/{photo['id']}$"))
    expect(page.get_by_test_id("media-name")).to_have_text("astronaut.jpg")
    viewport = page.get_by_test_id("viewport")
    expect(viewport).to_have_attribute("data-loaded", photo["blob"])  # the original, here only
    boxes = page.get_by_test_id("box")
    expect(boxes).to_have_count(len(frame["objects"]))
    face = next(o for o in frame["objects"] if o["type"] == "face")
    face_box = page.locator(f".box[data-id='{face['id']}']")
    label = face_box.get_by_test_id("box-label")
    expect(label).to_have_css("opacity", "0")
    face_box.hover()
    expect(label).to_have_css("opacity", "1")
    expect(label).to_have_text(f"face {round(face['confidence'] * 100)}%")
    # The face's box sits over the face: in the picture's upper half, inside it.
    shown, picture = face_box.bounding_box(), page.locator("#picture").bounding_box()
    assert shown and picture
    assert picture["x"] <= shown["x"]
    assert shown["x"] + shown["width"] <= picture["x"] + picture["width"] + 1
    assert shown["y"] + shown["height"] / 2 < picture["y"] + picture["height"] / 2
    expected_width = face["bbox"]["width"] / frame["width"] * picture["width"]
    assert abs(shown["width"] - expected_width) < 2
    shot(page, "photo-hover", full_page=False)

    # The caption with its model, the labels, moderation, EXIF table present.
    analysis = page.get_by_test_id("analysis")
    caption = frame["captions"][0]
    expect(analysis.get_by_test_id("captions")).to_contain_text(caption["text"][:40])
    expect(analysis.get_by_test_id("captions")).to_contain_text(caption["model"])
    expect(analysis.get_by_test_id("objects")).to_contain_text("face")
    expect(analysis.get_by_test_id("labels").locator(".chip").first).to_be_visible()
    expect(analysis.get_by_test_id("moderation")).to_have_text("approved")
    if DETECTOR.exists():
        expect(page.locator(".box.object")).not_to_have_count(0)
    # Choosing an object in the list lights its box (and its label) over the picture.
    analysis.get_by_test_id("objects").get_by_role("button", name="face").click()
    expect(face_box).to_have_class(re.compile(r"\blit\b"))
    page.mouse.move(0, 0)
    expect(label).to_have_css("opacity", "1")

    # Fit to screen by default; zooming makes the boxes bigger with the picture.
    expect(page.get_by_test_id("zoom-level")).to_have_text("100%")
    width, height = _box_size(page)
    page.get_by_role("button", name="Zoom in").click()
    expect(page.get_by_test_id("zoom-level")).to_have_text("125%")
    zoomed = _box_size(page)
    assert abs(zoomed[0] / width - 1.25) < 0.02 and abs(zoomed[1] / height - 1.25) < 0.02
    centre = viewport.bounding_box()
    assert centre
    page.mouse.move(centre["x"] + centre["width"] / 2, centre["y"] + centre["height"] / 2)
    page.mouse.wheel(0, -400)  # the wheel zooms in further
    expect(page.get_by_test_id("zoom-level")).not_to_have_text("125%")
    assert _box_size(page)[0] > zoomed[0] * 1.2
    before = page.locator("#stage").bounding_box()
    page.mouse.down()  # a drag pans
    middle = (centre["x"] + centre["width"] / 2, centre["y"] + centre["height"] / 2)
    page.mouse.move(middle[0] - 120, middle[1] - 60)
    page.mouse.up()
    after = page.locator("#stage").bounding_box()
    assert before and after and abs((before["x"] - after["x"]) - 120) < 2
    shot(page, "photo-zoomed", full_page=False)
    viewport.focus()
    page.keyboard.press("0")  # the keyboard fits it again
    expect(page.get_by_test_id("zoom-level")).to_have_text("100%")
    assert abs(_box_size(page)[0] - width) < 1
    # Boxes can be hidden; the hover label was text, not HTML.
    page.get_by_label("Boxes").uncheck()
    expect(boxes).to_have_count(0)
    shot(page, "photo", full_page=True)


# The page's CSP refuses eval (so wait_for_function's string form): wait on the video's own
# events instead, until it shows the picture at that time (or 10 s have passed).
_AT = """([time]) => new Promise((resolve) => {
  const video = document.getElementById("video");
  const check = () => {
    if (Math.abs(video.currentTime - time) < 0.01 && video.readyState >= 3 && !video.seeking) {
      resolve(true);
    }
  };
  for (const type of ["seeked", "loadeddata", "canplay", "timeupdate"]) {
    video.addEventListener(type, check);
  }
  setTimeout(() => resolve(video.currentTime), 10000);
  check();
})"""


def _video_at(page, time: float) -> bool:  # type: ignore[no-untyped-def]
    at = page.evaluate(_AT, [time])
    assert at is True, f"the video is at {at}, not {time}"
    return True


def test_video_seeks_to_the_chosen_frame(studio_page, library) -> None:  # type: ignore[no-untyped-def]
    owner, media = library
    clip = media["video"]
    frames = clip["frames"]
    assert len(frames) >= 2, frames
    page = studio_page
    answers: list[tuple[str, int, str | None]] = []
    page.on("response", lambda r: answers.append((r.url, r.status, r.request.headers.get("range"))))
    sign_in(page, owner.email, PASSWORD, f"/m/{clip['id']}")
    video = page.get_by_test_id("video")
    expect(video).to_have_attribute("src", clip["blob"])
    strip = page.get_by_test_id("frame")
    expect(strip).to_have_count(len(frames))
    expect(strip.first).to_have_attribute("aria-pressed", "true")
    last = frames[-1]
    strip.last.click()
    expect(strip.last).to_have_attribute("aria-pressed", "true")
    target = float(last["timestamp"])
    assert target > 0
    assert _video_at(page, target)
    expect(page).to_have_url(re.compile(f"frame={last['id']}"))
    # The player streams the original with Range requests, which the blob route answers.
    assert [a for a in answers if a[0] == clip["blob"] and a[1] == 206 and a[2]], answers
    # The strip shows the frames' own small pictures, never the original.
    for thumb, frame in zip(strip.locator("img").all(), frames, strict=True):
        expect(thumb).to_have_attribute("src", frame["thumbnailBlob"])
    # The keyboard steps through the strip too.
    strip.last.focus()
    page.keyboard.press("ArrowLeft")
    expect(strip.nth(len(frames) - 2)).to_be_focused()
    assert _video_at(page, float(frames[-2]["timestamp"]))
    strip.last.click()
    assert _video_at(page, target)
    shot(page, "video-frame", full_page=False)

    # ?t= (what a search result links to) seeks there and picks the frame it falls in.
    page.goto(f"/m/{clip['id']}?t=2.5")
    assert _video_at(page, 2.5)
    at = max(i for i, f in enumerate(frames) if float(f["timestamp"]) <= 2.5)
    expect(page.get_by_test_id("frame").nth(at)).to_have_attribute("aria-pressed", "true")
    shot(page, "video-t", full_page=True)


def test_boxes_over_a_video_frame(studio_page, library) -> None:  # type: ignore[no-untyped-def]
    owner, media = library
    clip = media["portrait"]
    frame = clip["frames"][0]
    face = next(o for o in frame["objects"] if o["type"] == "face")
    page = studio_page
    sign_in(page, owner.email, PASSWORD, f"/m/{clip['id']}?frame={frame['id']}")
    box = page.locator(f"#player-boxes .box[data-id='{face['id']}']")
    expect(box).to_be_visible()
    assert _video_at(page, float(frame["timestamp"]))
    # Drawn over the video picture itself, where the face is.
    shown, player = box.bounding_box(), page.get_by_test_id("video").bounding_box()
    assert shown and player
    # The player has the video's shape (a letterbox would shift the boxes off the picture).
    assert abs(player["width"] / player["height"] - frame["width"] / frame["height"]) < 0.01
    scale = player["width"] / frame["width"]
    assert abs(shown["x"] - (player["x"] + face["bbox"]["x"] * scale)) < 2
    assert abs(shown["width"] - face["bbox"]["width"] * scale) < 2
    # The pointer passes through to the player (its controls stay usable under a box), and
    # the box under it shows its label.
    page.mouse.move(shown["x"] + shown["width"] / 2, shown["y"] + shown["height"] / 2)
    expect(box.get_by_test_id("box-label")).to_have_css("opacity", "1")
    expect(box.get_by_test_id("box-label")).to_have_text(re.compile(r"^face \d+%$"))
    shot(page, "video-boxes", full_page=False)
    assert page.evaluate("([x, y]) => document.elementFromPoint(x, y).id",
                         [player["x"] + 20, player["y"] + player["height"] - 20]) == "video"
    box.focus()  # the keyboard reaches each box all the same
    page.mouse.move(0, 0)
    expect(box.get_by_test_id("box-label")).to_have_css("opacity", "1")


def test_pdf_pages(studio_page, library) -> None:  # type: ignore[no-untyped-def]
    owner, media = library
    pdf = media["pdf"]
    frames = pdf["frames"]
    assert [f["pageNumber"] for f in frames] == [1, 2, 3]
    page = studio_page
    sign_in(page, owner.email, PASSWORD, f"/m/{pdf['id']}")
    viewport = page.get_by_test_id("viewport")
    expect(viewport).to_have_attribute("data-loaded", frames[0]["blob"])
    expect(page.get_by_test_id("page-select")).to_have_value("0")
    page.get_by_label("Page", exact=True).select_option(label="2")
    expect(viewport).to_have_attribute("data-loaded", frames[1]["blob"])
    expect(page.locator("#frame-where")).to_have_text("(Page 2)")
    if frames[1]["text"]:
        expect(page.get_by_test_id("ocr")).to_have_text(frames[1]["text"])
    page.get_by_role("button", name="Next page").click()
    expect(viewport).to_have_attribute("data-loaded", frames[2]["blob"])
    expect(page.get_by_role("button", name="Next page")).to_be_disabled()
    shot(page, "pdf-page-3", full_page=False)
    page.goto(f"/m/{pdf['id']}?page=2")  # a search result's page
    expect(viewport).to_have_attribute("data-loaded", frames[1]["blob"])
    page.goto(f"/m/{pdf['id']}?frame={frames[2]['id']}")
    expect(viewport).to_have_attribute("data-loaded", frames[2]["blob"])
    page.get_by_test_id("viewport").focus()
    page.keyboard.press("ArrowLeft")  # the arrows step through the pages
    expect(viewport).to_have_attribute("data-loaded", frames[1]["blob"])
    # The grid's small pictures for the strip, never the originals of other items.
    assert not [u for u in page.context.visit.requests if media["photo"]["blob"] in u]


def test_live_state_and_a_failure(studio_page, studio, make_member, settings, database) -> None:  # type: ignore[no-untyped-def]
    owner = _owner(studio, make_member, database)
    waiting = owner.upload(media_files.photo("chelsea"), "cat.jpg")
    good = media_files.image("JPEG", (300, 200), noise=True)
    broken = owner.upload(good[: len(good) // 3], "cut.jpg")  # sound header, cut pixels
    page = studio_page
    sign_in(page, owner.email, PASSWORD, f"/m/{waiting}")
    state = page.get_by_test_id("media-state")
    expect(state).to_contain_text("Queued for processing")
    shot(page, "queued", full_page=False)
    _drain(studio, settings, database, [waiting, broken], models="none")
    expect(state).to_be_hidden(timeout=30_000)  # it polls, with backoff, until ready
    expect(page.locator("#media")).to_have_attribute("data-ready", "ready")
    expect(page.get_by_test_id("analysis")).not_to_contain_text("processing is under way")
    expect(page.get_by_test_id("analysis")).to_contain_text("Caption")
    page.goto(f"/m/{broken}")
    expect(state).to_contain_text("Processing failed:")
    expect(state).to_contain_text("cannot be decoded")
    shot(page, "failed", full_page=False)


def test_versions(studio_page, studio, make_member, database) -> None:  # type: ignore[no-untyped-def]
    owner = _owner(studio, make_member, database)
    first = owner.upload(media_files.image("PNG", (120, 80), color="red"), "sky.png")
    second = owner.upload(media_files.image("PNG", (120, 80), color="blue"), "sky-edit.png",
                          versionOf=first)
    third = owner.upload(media_files.image("PNG", (120, 80), color="green"), "sky-v3.png",
                         versionOf=first)
    page = studio_page
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, owner.email, PASSWORD, f"/m/{third}")
    versions = page.get_by_test_id("version")
    expect(versions).to_have_count(3)
    expect(versions.first).to_contain_text("Version 3")
    expect(versions.first.locator(".badge")).to_have_text(["active", "shown"])
    page.get_by_role("link", name="View version 1").click()  # select one to view
    expect(page).to_have_url(re.compile(f"/m/{first}$"))
    expect(page.get_by_test_id("media-name")).to_have_text("sky.png")
    page.get_by_role("button", name="Make version 1 the active one").click()
    expect(versions.last.locator(".badge", has_text="active")).to_have_count(1)
    expect(versions.first.locator(".badge", has_text="active")).to_have_count(0)
    assert owner.media(first)["isActiveVersion"] is True
    page.get_by_role("button", name="Delete version 2").click()
    expect(versions).to_have_count(2)
    assert owner.api.get(f"/api/media/{second}").status_code == 404
    shot(page, "versions", full_page=True)
    page.get_by_role("button", name="Delete version 1").click()  # the one shown: go on to another
    expect(page).to_have_url(re.compile(f"/m/{third}$"))
    expect(versions).to_have_count(1)
    expect(versions.first.locator(".badge")).to_have_text(["active", "shown"])


def test_tags_add_remove_and_rename_a_group(studio_page, studio, make_member, database) -> None:  # type: ignore[no-untyped-def]
    owner = _owner(studio, make_member, database)
    item = owner.upload(media_files.image("PNG", (80, 60)), "hut.png")
    page = studio_page
    sign_in(page, owner.email, PASSWORD, f"/m/{item}")
    expect(page.get_by_role("button", name="Add tag")).to_be_enabled()
    for value in ("Alps", "Dolomites"):
        page.get_by_label("Tag group").fill("Place")
        page.get_by_label("Tag", exact=True).fill(value)
        page.get_by_role("button", name="Add tag").click()
        expect(page.get_by_test_id("tag").filter(has_text=value)).to_have_count(1)
    page.get_by_label("Tag group").fill("Mood <i>")
    page.get_by_label("Tag", exact=True).fill("calm")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("tag-group")).to_have_count(2)
    expect(page.get_by_text("Mood <i>", exact=True)).to_be_visible()  # text, never HTML
    page.get_by_role("button", name="Remove the tag Place: Dolomites").click()
    expect(page.get_by_test_id("tag").filter(has_text="Dolomites")).to_have_count(0)
    page.get_by_role("button", name="Rename the group Place").click()
    page.get_by_label("New name of the group Place").fill("Where")
    page.get_by_label("New name of the group Place").press("Enter")
    expect(page.locator("[data-testid=tag-group][data-label=Where]")).to_contain_text("Alps")
    shot(page, "tags", full_page=True)
    assert owner.media(item)["metadata"]["tags"] == {"Where": ["Alps"], "Mood <i>": ["calm"]}
    # A blank value is explained, not sent.
    page.get_by_label("Tag group").fill("Where")
    page.get_by_label("Tag", exact=True).fill("   ")
    page.get_by_role("button", name="Add tag").click()
    expect(page.get_by_role("alert")).to_have_text("A tag needs a group and a value.")
    page.reload()
    expect(page.locator("[data-testid=tag-group][data-label=Where]")).to_contain_text("Alps")


def test_rename_move_and_delete(studio_page, studio, make_member, database) -> None:  # type: ignore[no-untyped-def]
    owner = _owner(studio, make_member, database)
    folder = owner.api.post("/api/folder", json={"datasetId": owner.dataset, "name": "Summer"})
    assert folder.status_code in (200, 201), folder.text
    summer = folder.json()["folder"]
    item = owner.upload(media_files.image("PNG", (80, 60)), "lake.png")
    page = studio_page
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, owner.email, PASSWORD, f"/m/{item}")
    expect(page.get_by_test_id("back")).to_have_attribute("href", f"/c/{owner.dataset}")
    expect(page.get_by_test_id("back")).to_have_text("← Back to Trips")

    page.locator("#rename-name").fill("Lake at dawn")
    page.get_by_role("button", name="Rename").click()
    expect(page.get_by_test_id("media-name")).to_have_text("Lake at dawn")
    expect(page).to_have_title(re.compile("^Lake at dawn"))
    page.locator("#rename-name").fill("  ")
    page.get_by_role("button", name="Rename").click()
    expect(page.get_by_role("alert")).to_have_text("An item needs a name.")

    page.get_by_label("Move to folder").select_option(label="Summer")
    page.get_by_role("button", name="Move", exact=True).click()
    back = f"/c/{owner.dataset}?path={summer['path']}"
    expect(page.get_by_test_id("back")).to_have_attribute("href", back)
    expect(page.get_by_role("navigation", name="Folders")).to_contain_text("Summer")
    assert owner.media(item)["path"].startswith(summer["path"] + ".")
    expect(page.locator("#media")).to_have_attribute("data-ready", re.compile("."))
    expect(page.get_by_test_id("version")).to_have_count(1)
    shot(page, "moved", full_page=True)

    page.get_by_role("button", name="Move to trash").click()
    page.wait_for_url(re.compile(re.escape(back) + "$"))
    assert owner.api.get(f"/api/media/{item}").status_code == 404
    trash = owner.api.get(f"/api/dataset/{owner.dataset}/trash").json()["media"]
    assert [m["id"] for m in trash] == [item]


def test_not_found_and_signed_out(studio_page, studio, make_member, person, database) -> None:  # type: ignore[no-untyped-def]
    stranger = _owner(studio, make_member, database)
    theirs = stranger.upload(media_files.image("PNG", (40, 30)), "private.png")
    page = studio_page
    page.goto(f"/m/{theirs}")  # signed out: sign in first, then come back here
    assert re.search(r"/sign-in\?next=%2Fm%2F" + theirs, page.url)
    sign_in(page, person.email, PASSWORD, f"/m/{uuid.uuid4()}")
    expect(page.get_by_test_id("media-not-found")).to_be_visible()
    # Another organization's item is as missing as one that never was; so is a non-id.
    for target in (theirs, "not-an-id", "%27%3Cscript%3E"):
        got = page.goto(f"/m/{target}")
        assert got and got.status == 404
        expect(page.get_by_test_id("media-not-found")).to_be_visible()
    assert not [u for u in page.context.visit.requests if "/blobs/" in u]
    shot(page, "not-found", full_page=False)


def test_a_viewer_sees_but_cannot_change(studio_page, studio, make_member, database) -> None:  # type: ignore[no-untyped-def]
    from coreviz_studio.accounts import service as accounts
    from coreviz_studio.db.tables import Organization

    owner = _owner(studio, make_member, database)
    item = owner.upload(media_files.image("JPEG", (80, 60), orientation=6), "shared.jpg")
    assert owner.api.post(f"/api/media/{item}/tags",
                          json={"label": "Place", "value": "Alps"}).status_code == 200
    with database.sessions() as s:
        org_name = s.get(Organization, owner.member.org_id).name
    viewer = make_member(org=org_name, role="viewer")
    with database.sessions() as s:
        accounts.set_password(s, viewer.email, PASSWORD)
        s.commit()
    page = studio_page
    sign_in(page, viewer.email, PASSWORD, f"/m/{item}")
    expect(page.get_by_test_id("tag")).to_have_text(["Alps"])
    expect(page.get_by_test_id("version")).to_have_count(1)
    exif = page.get_by_test_id("exif")  # the camera's tags, from the media's `exif`
    expect(exif.locator("dt", has_text="Make")).to_have_count(1)
    expect(exif).to_contain_text("TestCam")
    shot(page, "viewer", full_page=True)
    for name in ("Add tag", "Rename", "Move to trash", "Delete version 1", "Rename the group Place",
                 "Remove the tag Place: Alps"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    page.get_by_test_id("viewport").focus()
    page.keyboard.press("Escape")  # back to the folder it is in
    page.wait_for_url(re.compile(f"/c/{owner.dataset}$"))


# Two touches 40 px apart that move to 160 px apart, about the viewport's centre (synthetic
# pointer events: Playwright has no multi-touch gesture for Chromium).
_PINCH = """() => {
  const viewport = document.getElementById("viewport");
  const rect = viewport.getBoundingClientRect();
  const cx = rect.left + rect.width / 2, cy = rect.top + rect.height / 2;
  const fire = (type, id, x) => viewport.dispatchEvent(new PointerEvent(type, {
    pointerId: id, pointerType: "touch", isPrimary: id === 1, clientX: x, clientY: cy,
    bubbles: true }));
  fire("pointerdown", 11, cx - 20); fire("pointerdown", 12, cx + 20);
  fire("pointermove", 11, cx - 80); fire("pointermove", 12, cx + 80);
  fire("pointerup", 11, cx - 80); fire("pointerup", 12, cx + 80);
}"""


def test_media_view_on_a_phone(browser, studio, library) -> None:  # type: ignore[no-untyped-def]
    owner, media = library
    context = open_context(browser, studio, PHONE)
    page = context.new_page()
    sign_in(page, owner.email, PASSWORD, f"/m/{media['photo']['id']}")
    expect(page.get_by_test_id("viewport")).to_have_attribute("data-loaded", media["photo"]["blob"])
    expect(page.get_by_test_id("box").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.get_by_test_id("box").first.focus()  # keyboard / touch: the label shows on focus
    expect(page.get_by_test_id("box-label").first).to_have_css("opacity", "1")
    # A pinch (two touches moving apart) zooms; the boxes grow with the picture.
    width = _box_size(page)[0]
    page.evaluate(_PINCH)
    expect(page.get_by_test_id("zoom-level")).to_have_text("400%")
    assert abs(_box_size(page)[0] / width - 4) < 0.05
    shot(page, "phone-pinched", full_page=False)
    page.get_by_role("button", name="Fit").click()
    expect(page.get_by_test_id("zoom-level")).to_have_text("100%")
    shot(page, "phone-photo", full_page=False)
    shot(page, "phone-photo-all", full_page=True)
    page.goto(f"/m/{media['video']['id']}")
    expect(page.get_by_test_id("frame")).to_have_count(len(media["video"]["frames"]))
    assert _video_at(page, 0.0)
    for thumb in page.locator(".frame img").all():
        expect(thumb).to_have_js_property("complete", True)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "phone-video", full_page=False)
    context.close()
    assert context.visit.outside() == []
