"""People and things in a real browser, on real photos through the real pipeline (dlib faces,
the COCO detector when ../shared/models has it): the same astronaut twice is one person, shown
as a crop of her face; naming her holds; her page lists both photos (thumbnails only, linking
to the media view); things; someone else's person is not found; a phone-sized screen."""

from __future__ import annotations

import io
import re
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from PIL import Image, ImageOps
from playwright.sync_api import expect

from tests import media_files
from tests.browser import PHONE, open_context, shot, sign_in
from tests.conftest import PASSWORD
from tests.jobs import drain, pipeline
from tests.shared_models import DETECTOR

pytest.importorskip("dlib")
pytest.importorskip("skimage.data")
pytestmark = pytest.mark.usefixtures("fresh_sign_in_limits")


def _flipped(data: bytes) -> bytes:
    out = io.BytesIO()
    ImageOps.mirror(Image.open(io.BytesIO(data))).save(out, "JPEG", quality=90)
    return out.getvalue()


@pytest.fixture
def library(studio, person, settings, database, tmp_path):  # type: ignore[no-untyped-def]
    """The person's collection of real photos, uploaded to the Studio's server and processed by
    the real pipeline on that server's blob store: {name: media id}."""
    api = httpx.Client(base_url=studio.url, headers=person.headers, timeout=60)
    made = api.post(f"/api/organization/{person.org_id}/datasets", json={"name": "Space"})
    assert made.status_code == 201, made.text
    astronaut = media_files.photo("astronaut")
    photos = {"astronaut.jpg": astronaut, "astronaut-mirrored.jpg": _flipped(astronaut),
              "cat.jpg": media_files.photo("chelsea"), "coffee.jpg": media_files.photo("coffee")}
    ids = {}
    for name, data in photos.items():
        up = api.post("/api/upload/multipart", data={"datasetId": made.json()["id"]},
                      files={"file": (name, data, "image/jpeg")})
        assert up.status_code == 201, up.text
        ids[name] = str(up.json()["mediaId"])
    models = tmp_path / "models"
    if DETECTOR.exists():
        (models / "objects").mkdir(parents=True)
        shutil.copy(DETECTOR, models / "objects" / DETECTOR.name)
    pipe = pipeline(settings, database, data_dir=studio.data_dir, models_dir=models,
                    models="faces,objects,labels")
    # The worker runs its own asyncio loop: not in this thread, where Playwright's runs.
    worker = ThreadPoolExecutor(1)
    worker.submit(drain, pipe, list(ids.values())).result(timeout=600)
    worker.shutdown()
    for media_id in ids.values():
        status = api.get(f"/api/media/{media_id}").json()["media"]["metadata"]["processing"]
        assert status["status"] == "ready", status
    originals = {api.get(f"/api/media/{m}").json()["media"]["blob"] for m in ids.values()}
    return ids, originals


def test_name_a_person_and_browse_her_photos(studio_page, studio, person, library) -> None:  # type: ignore[no-untyped-def]
    ids, originals = library
    page = studio_page
    sign_in(page, person.email, PASSWORD)
    page.get_by_role("link", name="People").click()
    expect(page.get_by_role("heading", name="People", exact=True)).to_be_visible()
    her = page.get_by_test_id("cluster")
    expect(her).to_have_count(1)  # the astronaut, mirrored or not, is one person
    expect(her.locator(".person-name")).to_have_text("Unnamed person")
    expect(her.locator(".count")).to_have_text("2 faces")
    picture = her.locator(".face-crop img")
    expect(picture).to_have_class(re.compile("cropped"))  # the face, not the whole frame
    # Loaded (waited for as expect() waits: the class can be set before the bytes arrive).
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=picture.element_handle())
    # Cropped: the picture is wider than its square (only the face shows).
    assert picture.evaluate("img => img.getBoundingClientRect().width"
                            " > img.parentElement.getBoundingClientRect().width * 1.5")
    shot(page, "unnamed")

    her.get_by_role("button", name="Name this person").click()
    her.get_by_role("textbox", name="Name").fill("Eileen Collins")
    her.get_by_role("textbox", name="Name").press("Enter")
    expect(her.locator(".person-name")).to_have_text("Eileen Collins")
    page.reload()  # saved, not only shown
    expect(page.get_by_test_id("cluster").locator(".person-name")).to_have_text("Eileen Collins")
    expect(page.get_by_role("button", name="Rename")).to_be_visible()
    shot(page, "named")

    page.get_by_role("link", name=re.compile("^Eileen Collins")).click()
    expect(page).to_have_url(re.compile(r"/people/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", name="Eileen Collins", level=1)).to_be_visible()
    items = page.get_by_test_id("cluster-item")
    expect(items).to_have_count(2)
    hrefs = {items.nth(i).get_by_role("link").get_attribute("href") for i in range(2)}
    assert hrefs == {f"/m/{ids['astronaut.jpg']}", f"/m/{ids['astronaut-mirrored.jpg']}"}
    for i in range(2):
        expect(items.nth(i).locator("img")).to_have_js_property("complete", True)
        assert items.nth(i).locator("img").evaluate("img => img.naturalWidth") > 0
    expect(page.get_by_role("link", name="Space")).to_have_attribute(
        "href", re.compile(r"^/c/[0-9a-f-]{36}\?cluster="))
    shot(page, "her-photos")
    # By keyboard: Enter opens the name's field, Escape closes it and gives the focus back.
    page.get_by_role("button", name="Rename").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("textbox", name="Name")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_role("textbox", name="Name")).to_be_hidden()
    expect(page.get_by_role("button", name="Rename")).to_be_focused()
    # The name can be changed here too, and the search finds her photos by it.
    page.get_by_role("button", name="Rename").click()
    page.get_by_role("textbox", name="Name").fill("Commander Collins")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Commander Collins", level=1)).to_be_visible()
    found = httpx.get(f"{studio.url}/api/search", headers=person.headers,
                      params={"q": "Commander Collins"}, timeout=60).json()["results"]
    assert {r["media"]["id"] for r in found[:2]} == {ids["astronaut.jpg"],
                                                     ids["astronaut-mirrored.jpg"]}
    # Thumbnails only: no original is ever loaded by these pages.
    assert not [u for u in page.context.visit.requests if u in originals]

    if DETECTOR.exists():
        page.goto("/people")
        page.get_by_role("link", name="Things").click()
        expect(page).to_have_url(re.compile("/things$"))
        things = page.get_by_test_id("cluster")
        expect(things.first).to_be_visible()
        labels = things.locator(".person-name").all_inner_texts()
        assert "cat" in labels, labels
        shot(page, "things")
        things.filter(has=page.get_by_role("heading", name="cat", exact=True)).first \
            .get_by_role("link").click()
        expect(page.get_by_test_id("cluster-item")).to_have_count(1)
        assert page.get_by_test_id("cluster-item").get_by_role("link").get_attribute(
            "href") == f"/m/{ids['cat.jpg']}"


def test_a_viewer_cannot_name_and_a_stranger_finds_nothing(browser, studio, person, library,
                                                           make_member, database) -> None:  # type: ignore[no-untyped-def]
    from coreviz_studio.accounts import service as accounts
    from coreviz_studio.db.tables import Organization

    clusters = httpx.get(f"{studio.url}/api/clusters", headers=person.headers,
                         params={"kind": "face"}, timeout=30).json()["clusters"]
    cluster = clusters[0]["id"]
    with database.sessions() as s:
        org = s.get(Organization, person.org_id).name
    viewer = make_member(org=org, role="viewer")
    stranger = make_member()
    with database.sessions() as s:
        for someone in (viewer, stranger):
            accounts.set_password(s, someone.email, PASSWORD)
        s.commit()
    context = open_context(browser, studio)
    page = context.new_page()
    sign_in(page, viewer.email, PASSWORD, path="/people")
    expect(page.get_by_test_id("cluster")).to_have_count(1)
    expect(page.get_by_role("button", name="Name this person")).to_have_count(0)
    page.goto(f"/people/{cluster}")
    expect(page.get_by_test_id("cluster-item")).to_have_count(2)
    expect(page.get_by_role("button", name="Name this person")).to_have_count(0)
    context.close()

    context = open_context(browser, studio)
    page = context.new_page()
    sign_in(page, stranger.email, PASSWORD, path="/people")
    expect(page.get_by_test_id("no-clusters")).to_be_visible()
    for path in (f"/people/{cluster}", "/people/not-an-id", f"/things/{uuid.uuid4()}"):
        response = page.goto(path)
        assert response is not None and response.status == 404, path
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    page.goto("/people?offset=abc")  # a bad page number is the first page
    expect(page.get_by_test_id("no-clusters")).to_be_visible()
    context.close()
    assert context.visit.outside() == []


def test_people_on_a_phone(browser, studio, person, library) -> None:  # type: ignore[no-untyped-def]
    context = open_context(browser, studio, PHONE)
    page = context.new_page()
    sign_in(page, person.email, PASSWORD, path="/people")
    expect(page.get_by_test_id("cluster")).to_have_count(1)
    expect(page.get_by_role("button", name="Name this person")).to_be_enabled()
    expect(page.locator(".face-crop img")).to_have_js_property("complete", True)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "phone-people")
    page.get_by_test_id("cluster").get_by_role("link").click()
    expect(page.get_by_test_id("cluster-item")).to_have_count(2)
    for img in page.get_by_test_id("cluster-item").locator("img").all():
        expect(img).to_have_js_property("complete", True)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "phone-person")
    context.close()
    assert context.visit.outside() == []
