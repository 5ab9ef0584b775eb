"""The collections page in a real browser: the organization's collections with their item
counts and covers (the newest item's thumbnail, a placeholder while no item has one; never an
original), opening one, creating and renaming one, and what a viewer may not do."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests import media_files
from tests.browser import PHONE, open_context, shot, sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("fresh_sign_in_limits")


def _collection(studio, member, name: str, items: int = 0) -> str:  # type: ignore[no-untyped-def]
    api = httpx.Client(base_url=studio.url, headers=member.headers, timeout=30)
    made = api.post(f"/api/organization/{member.org_id}/datasets", json={"name": name})
    assert made.status_code == 201, made.text
    dataset_id = made.json()["id"]
    for i in range(items):
        up = api.post("/api/upload/multipart", data={"datasetId": dataset_id},
                      files={"file": (f"p{i}.png", media_files.image("PNG", color=f"#{i}08"),
                                      "image/png")})
        assert up.status_code in (200, 201), up.text
    return str(dataset_id)


def _card(page, name: str):  # type: ignore[no-untyped-def]
    return page.get_by_test_id("collection").filter(
        has=page.get_by_role("heading", name=name, exact=True))


def test_list_create_and_rename(studio_page, studio, person) -> None:  # type: ignore[no-untyped-def]
    _collection(studio, person, "Holidays", items=2)
    _collection(studio, person, "Empty one")
    page = studio_page
    sign_in(page, person.email, PASSWORD)
    holidays = _card(page, "Holidays")
    expect(holidays.locator(".count")).to_have_text("2 items")
    expect(_card(page, "Empty one").locator(".count")).to_have_text("0 items")
    expect(holidays.locator(".cover.placeholder img")).to_be_visible()
    expect(page.get_by_role("button", name="Create")).to_be_enabled()  # its script has run
    shot(page, "listed")

    page.get_by_placeholder("New collection").fill("Alps <b>2026</b>")
    page.get_by_role("button", name="Create").click()
    alps = _card(page, "Alps <b>2026</b>")  # text, never HTML
    expect(alps.locator(".count")).to_have_text("0 items")
    shot(page, "created")

    alps.get_by_role("button", name="Rename").click()
    alps.get_by_label("New name").fill("Dolomites")
    alps.get_by_role("button", name="Save").click()
    expect(_card(page, "Dolomites")).to_have_count(1)
    page.reload()  # saved, not only shown
    expect(_card(page, "Dolomites").locator(".count")).to_have_text("0 items")
    expect(_card(page, "Alps <b>2026</b>")).to_have_count(0)
    shot(page, "renamed")
    # Covers are thumbnails or a placeholder: the originals are never loaded.
    assert not [u for u in page.context.visit.requests if "/blobs/" in u]


def test_bad_names_are_explained(studio_page, person) -> None:  # type: ignore[no-untyped-def]
    page = studio_page
    sign_in(page, person.email, PASSWORD)
    page.get_by_placeholder("New collection").fill("   ")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("alert")).to_have_text("Give the new collection a name.")
    page.get_by_placeholder("New collection").fill("\u202e\u202d")  # bidi overrides only: refused
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("alert")).to_have_text(re.compile("must have a visible character"))
    shot(page, "refused")


def test_a_viewer_sees_but_cannot_change(studio_page, studio, make_member, database) -> None:  # type: ignore[no-untyped-def]
    from coreviz_studio.accounts import service as accounts

    owner = make_member()
    _collection(studio, owner, "Shared")
    viewer = make_member(org=next(iter(_org_name(database, owner))), role="viewer")
    with database.sessions() as s:
        accounts.set_password(s, viewer.email, PASSWORD)
        s.commit()
    page = studio_page
    sign_in(page, viewer.email, PASSWORD)
    expect(_card(page, "Shared")).to_have_count(1)
    expect(page.get_by_role("button", name="Rename")).to_have_count(0)
    expect(page.get_by_role("button", name="Create")).to_have_count(0)


def _org_name(database, member) -> list[str]:  # type: ignore[no-untyped-def]
    from coreviz_studio.db.tables import Organization

    with database.sessions() as s:
        org = s.get(Organization, member.org_id)
        return [org.name]


def test_collections_on_a_phone(browser, studio, person) -> None:  # type: ignore[no-untyped-def]
    for name in ("Garden", "Street photography in the old town of Ljubljana"):
        _collection(studio, person, name, items=1)
    context = open_context(browser, studio, PHONE)
    page = context.new_page()
    sign_in(page, person.email, PASSWORD)
    expect(page.get_by_test_id("collection")).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "phone")
    context.close()
    assert context.visit.outside() == []


def test_the_cover_is_the_newest_thumbnail_and_the_card_opens_it(  # type: ignore[no-untyped-def]
        studio_page, studio, person, settings, database) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tests.jobs import drain, pipeline

    dataset_id = _collection(studio, person, "Covered", items=2)  # p0.png, then p1.png
    api = httpx.Client(base_url=studio.url, headers=person.headers, timeout=30)
    listed = api.get(f"/api/dataset/{dataset_id}/media", params={"sortBy": "name"}).json()
    first, second = (m["id"] for m in listed["media"])
    with ThreadPoolExecutor(1) as pool:  # the worker's asyncio loop, beside Playwright's
        pool.submit(drain, pipeline(settings, database, models="none",
                                    data_dir=studio.data_dir), [first]).result()
    # Only the older item has a thumbnail yet: it is the cover; the newer one has none.
    cover = api.get(f"/api/media/{first}").json()["media"]["thumbnail"]
    assert cover and cover.endswith(".webp")
    page = studio_page
    sign_in(page, person.email, PASSWORD)
    image = _card(page, "Covered").locator("img.cover")
    expect(image).to_have_attribute("src", cover)
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("i => i.naturalWidth") > 0
    originals = [api.get(f"/api/media/{m}").json()["media"]["blob"] for m in (first, second)]
    assert not [u for u in page.context.visit.requests if u in originals]
    shot(page, "cover")
    _card(page, "Covered").click()  # anywhere on the card
    expect(page).to_have_url(re.compile(f"/c/{dataset_id}$"))
    expect(page.get_by_role("heading", name=re.compile("^Covered"))).to_be_visible()
