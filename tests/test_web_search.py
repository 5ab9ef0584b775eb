"""The search page in a real browser, on a library processed by the real models: the header's
box searches every collection, each result with its score; the slider hides results under a
score; a video's result says and links to the moment that matched, a PDF's to its page;
search within one collection; find similar from a face; bad input; a phone-sized screen."""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from PIL import Image, ImageOps
from playwright.sync_api import expect

from tests import media_files
from tests.browser import PHONE, open_context, shot, sign_in
from tests.conftest import PASSWORD, Member
from tests.jobs import drain, pipeline
from tests.processes import Server, server_on
from tests.shared_models import DETECTOR

pytestmark = pytest.mark.usefixtures("fresh_sign_in_limits")

# The COCO detector, for objects to find similar ones of (tests/shared_models.py).


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=92)
    return out.getvalue()


def _two_scene_video(path: Path) -> bytes:
    """Two seconds of a real photo (coffee), then a hard cut to two seconds of printed text."""
    import av

    size = (640, 360)
    first = Image.open(io.BytesIO(media_files.photo("coffee"))).convert("RGB").resize(size)
    second = Image.open(io.BytesIO(media_files.printed_text(["ZEPPELIN", "TICKET"]))) \
        .convert("RGB").resize(size)
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(40):
            frame = av.VideoFrame.from_image(first if i < 20 else second)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.read_bytes()


@pytest.fixture(scope="module")
def searcher(pg_url: str) -> Iterator[Server]:
    """A server that embeds queries (the text model): the shared `studio` runs no models, so
    its searches are text-only and cannot say which frame matched. The server's own relevance
    cutoff is off: these tests move the Studio's slider over a whole ranking (with it on, "cat"
    returns only the two cats, 0.002 apart); tests/test_understanding_search.py tests it."""
    with server_on(pg_url, "cvs-web-search-", COREVIZ_MODELS="text-embedding",
                   COREVIZ_SEARCH_CUTOFF="false") as server:
        yield server


@pytest.fixture
def page(browser, searcher):  # type: ignore[no-untyped-def]
    """A page on that server; no request may leave its origin (as `studio_page`)."""
    context = open_context(browser, searcher)
    yield context.new_page()
    outside = context.visit.outside()
    context.close()
    assert outside == [], f"requests left the origin: {outside}"


@pytest.fixture(scope="module")
def library(searcher, make_member_module, database, settings, tmp_path_factory):  # type: ignore[no-untyped-def]
    """A person's two collections, processed with the real models on the server's store."""
    studio = searcher
    from coreviz_studio.accounts import service as accounts

    member: Member = make_member_module()
    with database.sessions() as s:
        accounts.set_password(s, member.email, PASSWORD)
        s.commit()
    api = httpx.Client(base_url=studio.url, headers=member.headers, timeout=60)

    def collection(name: str) -> str:
        r = api.post(f"/api/organization/{member.org_id}/datasets", json={"name": name})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def upload(dataset_id: str, name: str, data: bytes) -> str:
        r = api.post("/api/upload/multipart", data={"datasetId": dataset_id},
                     files={"file": (name, data)})
        assert r.status_code in (200, 201), r.text
        return str(r.json()["mediaId"])

    trips, work = collection("Trips"), collection("Work")
    astronaut = media_files.photo("astronaut")
    flipped = _jpeg(ImageOps.mirror(Image.open(io.BytesIO(astronaut))))
    tmp = tmp_path_factory.mktemp("search-media")
    ids = {
        "cat": upload(trips, "chelsea.jpg", media_files.photo("chelsea")),
        "astronaut": upload(trips, "astronaut.jpg", astronaut),
        "astronaut2": upload(trips, "crew-portrait.jpg", flipped),
        "rocket": upload(trips, "launch.jpg", media_files.photo("rocket")),
        "video": upload(trips, "airship.mp4", _two_scene_video(tmp / "airship.mp4")),
        "pdf": upload(trips, "guide.pdf", media_files.pdf_with_text(
            ["Opening hours", "The quokka enclosure"])),
        "work_cat": upload(work, "office-cat.jpg", media_files.photo("chelsea")),
    }
    models_dir = tmp / "models"
    if DETECTOR.exists():
        (models_dir / "objects").mkdir(parents=True)
        shutil.copy(DETECTOR, models_dir / "objects" / DETECTOR.name)
    with ThreadPoolExecutor(1) as pool:  # the worker's asyncio loop, beside Playwright's
        pool.submit(drain, pipeline(settings, database, models_dir=models_dir,
                                    blob_dir=studio.data_dir / "blobs"),
                    list(ids.values())).result()
    return {"member": member, "trips": trips, "work": work, "ids": ids, "api": api}


def _results(page):  # type: ignore[no-untyped-def]
    return page.get_by_test_id("result")


def _scores(page) -> list[float]:  # type: ignore[no-untyped-def]
    return [float(s) for s in page.get_by_test_id("score").all_inner_texts()]


def test_search_everywhere_with_scores_and_a_cutoff(page, library) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, library["member"].email, PASSWORD)
    page.get_by_label("Search everything").fill("cat")
    page.get_by_label("Search everything").press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?q=cat"))
    results = _results(page)
    expect(results.first).to_be_visible()
    names = results.locator(".result-name").all_inner_texts()
    assert {"chelsea.jpg", "office-cat.jpg"} <= set(names[:2]), names  # both collections
    expect(results.filter(has_text="office-cat.jpg")).to_contain_text("in Work")
    scores = _scores(page)
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores), scores
    expect(page.get_by_test_id("score").first).to_have_text(re.compile(r"^\d\.\d{3}$"))
    shot(page, "everywhere")

    cut = round((scores[0] + scores[-1]) / 2, 2)
    assert scores[-1] < cut <= scores[0], f"no two scores far enough apart to cut: {scores}"
    page.get_by_label("Hide results scoring under").fill(str(cut))
    expect(page.get_by_test_id("min-score-value")).to_have_text(f"{cut:.2f}")
    kept = [s for s in scores if s >= cut]
    expect(results.locator("visible=true")).to_have_count(len(kept))
    expect(page.get_by_test_id("search-summary")).to_have_text(
        re.compile(rf"; {len(scores) - len(kept)} scoring under {cut:.2f} hidden$"))
    expect(page).to_have_url(re.compile(rf"min={cut:.2f}"))
    shot(page, "cutoff")
    page.reload()  # the cutoff is kept in the URL
    expect(results.locator("visible=true")).to_have_count(len(kept))


def test_a_video_result_opens_at_its_moment_and_a_pdf_at_its_page(page, library) -> None:  # type: ignore[no-untyped-def]
    ids = library["ids"]
    video = library["api"].get(f"/api/media/{ids['video']}").json()["media"]
    later = [f for f in video["frames"] if float(f["timestamp"]) >= 1.5]
    assert later, video["frames"]
    sign_in(page, library["member"].email, PASSWORD, path="/search?q=zeppelin")
    hit = _results(page).first
    expect(hit.locator(".result-name")).to_have_text("airship.mp4")
    expect(hit.get_by_test_id("matched")).to_have_text(re.compile(r"^video · at 0:0[2-3]$"))
    link = urlparse(hit.locator("a.result-open").get_attribute("href") or "")
    assert link.path == f"/m/{ids['video']}"
    query = parse_qs(link.query)
    frame = next(f for f in video["frames"] if f["id"] == query["frame"][0])
    assert float(query["t"][0]) == float(frame["timestamp"]) >= 1.5
    thumb = hit.locator("img.result-thumb")  # the matched moment's preview, not the original
    assert thumb.get_attribute("src") == frame["thumbnailBlob"] != video["thumbnail"]
    expect(thumb).to_have_js_property("complete", True)
    assert thumb.evaluate("img => img.naturalWidth") > 0
    shot(page, "video")
    # Opening it: the media view shows that frame, the matched moment.
    hit.locator("a.result-open").click()
    expect(page).to_have_url(re.compile(rf"/m/{ids['video']}\?frame={frame['id']}"))
    index = [f["id"] for f in video["frames"]].index(frame["id"])
    expect(page.get_by_test_id("frame").nth(index)).to_have_attribute("aria-pressed", "true")
    shot(page, "video-opened", full_page=False)

    page.goto("/search?q=quokka")
    hit = _results(page).first
    expect(hit.locator(".result-name")).to_have_text("guide.pdf")
    expect(hit.get_by_test_id("matched")).to_have_text("pdf · page 2")
    link = urlparse(hit.locator("a.result-open").get_attribute("href") or "")
    assert link.path == f"/m/{ids['pdf']}" and parse_qs(link.query)["page"] == ["2"]
    pdf = library["api"].get(f"/api/media/{ids['pdf']}").json()["media"]
    page_two = next(f for f in pdf["frames"] if f["pageNumber"] == 2)
    assert parse_qs(link.query)["frame"] == [page_two["id"]]
    expect(hit.locator("img.result-thumb")).to_have_attribute("src", page_two["thumbnailBlob"])
    shot(page, "pdf")


def test_search_in_one_collection(page, library) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, library["member"].email, PASSWORD, path=f"/c/{library['work']}")
    page.get_by_label("Search this collection").fill("cat")
    page.get_by_label("Search this collection").press("Enter")
    expect(page.get_by_label("Search in")).to_have_value(library["work"])
    results = _results(page)
    expect(results.first).to_be_visible()
    assert results.locator(".result-name").all_inner_texts()[0] == "office-cat.jpg"
    assert "chelsea.jpg" not in results.locator(".result-name").all_inner_texts()
    # Switching to every collection from the page's own form.
    page.get_by_label("Search in").select_option("")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(results.filter(has_text="chelsea.jpg")).to_have_count(1)
    shot(page, "one-collection")


def test_find_similar_from_a_face(page, library) -> None:  # type: ignore[no-untyped-def]
    ids = library["ids"]
    sign_in(page, library["member"].email, PASSWORD, path="/search?q=astronaut")
    hit = _results(page).filter(has_text="astronaut.jpg")
    expect(hit).to_have_count(1)
    hit.get_by_test_id("find-similar").filter(has_text="face").first.click()
    expect(page).to_have_url(re.compile(r"/search\?similar=[0-9a-f-]+&model=faces"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Looks like this face")
    first = _results(page).first
    expect(first.locator(".result-name")).to_have_text("crew-portrait.jpg")
    assert first.get_attribute("data-media-id") == ids["astronaut2"]
    assert _scores(page)[0] > 0.9
    shot(page, "similar")


@pytest.mark.skipif(not DETECTOR.exists(), reason=f"no object detector at {DETECTOR}")
def test_find_similar_from_an_object_in_every_collection(page, library) -> None:  # type: ignore[no-untyped-def]
    ids = library["ids"]
    sign_in(page, library["member"].email, PASSWORD,
            path=f"/search?q=cat&dataset={library['trips']}")
    hit = _results(page).filter(has_text="chelsea.jpg")
    expect(hit).to_have_count(1)
    hit.get_by_test_id("find-similar").filter(has_text=re.compile("^cat$")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Looks like this cat")
    expect(page.get_by_label("Search in")).to_have_value(library["trips"])  # stays in Trips
    expect(page.get_by_test_id("search-summary")).to_have_text(re.compile("^\\d+ results?$"))
    names = _results(page).locator(".result-name").all_inner_texts()
    assert "office-cat.jpg" not in names, names  # in Work, not in Trips
    # The same photo in the other collection: searching every collection finds it, on top
    # (beside the cat's own photo, whose other boxes look like it too).
    page.get_by_label("Search in").select_option("")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(r"dataset=&similar=[0-9a-f-]+&model=objects"))
    expect(_results(page).filter(has_text="office-cat.jpg")).to_have_count(1)
    top = [r.get_attribute("data-media-id") for r in _results(page).all()[:2]]
    assert ids["work_cat"] in top, top
    assert _scores(page)[0] > 0.95
    shot(page, "similar-object")
    # Words typed there start a word search again.
    page.get_by_label("Search for").fill("zeppelin")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(r"/search\?q=zeppelin&dataset=$"))
    expect(_results(page).first.locator(".result-name")).to_have_text("airship.mp4")


def test_bad_input_is_explained(page, library) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, library["member"].email, PASSWORD, path="/search?q=cat&dataset=not-an-id")
    expect(page.get_by_test_id("no-such-collection")).to_be_visible()
    expect(_results(page)).to_have_count(0)
    page.goto("/search?similar=garbage")
    expect(page.locator("#search-error")).to_have_text(re.compile("invalid|object", re.I))
    page.goto("/search?similar=00000000-0000-4000-8000-000000000000&model=faces")
    expect(page.get_by_role("heading", level=1)).to_have_text("Looks like this face")
    expect(page.locator("#search-error")).to_have_text(re.compile("not found", re.I))
    shot(page, "refused")


def test_search_on_a_phone(browser, searcher, library) -> None:  # type: ignore[no-untyped-def]
    context = open_context(browser, searcher, viewport=PHONE)
    try:
        page = context.new_page()
        sign_in(page, library["member"].email, PASSWORD, path="/search?q=cat")
        expect(_results(page).first).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], width  # nothing runs off the side
        expect(page.get_by_label("Search everything")).to_be_visible()
        shot(page, "phone", full_page=False)
        assert not context.visit.outside()
    finally:
        context.close()
