"""The library view of a collection in a real browser (/c/{id}): folders and breadcrumbs, the
virtual grid of thumbnails (never an original), sort and filters in the URL, the processing
badges, the keyboard, bulk move / tag / delete, the trash with restore and delete for good, and
a phone-sized screen."""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests import media_files
from tests.browser import PHONE, open_context, shot, sign_in
from tests.conftest import PASSWORD
from tests.jobs import drain, pipeline
from tests.seed_media import seed_items

pytestmark = pytest.mark.usefixtures("fresh_sign_in_limits")

PHOTOS = ("astronaut", "chelsea", "coffee")


@dataclass
class World:
    """A collection: three processed photos at the top level, one still queued, one that
    failed, a folder "Day 1" holding "Morning" (with a photo) and nothing else."""

    dataset_id: str
    api: httpx.Client
    ids: dict[str, str] = field(default_factory=dict)  # name -> media id
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> folder

    def media(self, name: str) -> dict[str, Any]:
        found = self.api.get(f"/api/media/{self.ids[name]}")
        assert found.status_code == 200, found.text
        return dict(found.json()["media"])

    def originals(self) -> list[str]:
        return [m["blob"] for m in (self.media(n) for n in self.ids) if m.get("blob")]


def _upload(api: httpx.Client, dataset_id: str, name: str, data: bytes,
            path: str | None = None) -> str:
    fields = {"datasetId": dataset_id, **({"path": path} if path else {})}
    made = api.post("/api/upload/multipart", data=fields,
                    files={"file": (name, data, "application/octet-stream")})
    assert made.status_code in (200, 201), made.text
    return str(made.json()["mediaId"])


def _folder(api: httpx.Client, dataset_id: str, name: str,
            path: str | None = None) -> dict[str, Any]:
    made = api.post("/api/folder", json={"datasetId": dataset_id, "name": name,
                                         **({"path": path} if path else {})})
    assert made.status_code in (200, 201), made.text
    return dict(made.json()["folder"])


def _drain(studio, settings, database, ids: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Run these items' jobs (processing, purge) against the Studio server's blob store; in a
    thread of its own: the worker runs an asyncio loop, as Playwright's sync API does here."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(drain, pipeline(settings, database, models="none", data_dir=studio.data_dir),
                    ids).result()


def _world(studio, member, settings, database, name: str = "Trip") -> World:  # type: ignore[no-untyped-def]
    api = httpx.Client(base_url=studio.url, headers=member.headers, timeout=60)
    made = api.post(f"/api/organization/{member.org_id}/datasets", json={"name": name})
    assert made.status_code == 201, made.text
    world = World(str(made.json()["id"]), api)
    day = _folder(api, world.dataset_id, "Day 1")
    morning = _folder(api, world.dataset_id, "Morning", day["path"])
    world.folders = {"Day 1": day, "Morning": morning}
    for photo in PHOTOS:
        world.ids[f"{photo}.jpg"] = _upload(api, world.dataset_id, f"{photo}.jpg",
                                            media_files.photo(photo))
    world.ids["sunrise.png"] = _upload(api, world.dataset_id, "sunrise.png",
                                       media_files.image("PNG", (320, 200), color="orange"),
                                       morning["path"])
    good = media_files.image("JPEG", (300, 200), noise=True)
    world.ids["cut.jpg"] = _upload(api, world.dataset_id, "cut.jpg", good[: len(good) // 3])
    _drain(studio, settings, database, list(world.ids.values()))
    # Uploaded after the drain: still queued.
    world.ids["later.png"] = _upload(api, world.dataset_id, "later.png",
                                     media_files.image("PNG", (64, 64), color="teal"))
    return world


def _tile(page, name: str):  # type: ignore[no-untyped-def]
    return page.get_by_test_id("tile").filter(has=page.locator(".tile-name", has_text=re.compile(
        f"^{re.escape(name)}$")))


def _tile_names(page) -> list[str]:  # type: ignore[no-untyped-def]
    return list(page.evaluate("""() => [...document.querySelectorAll('[data-testid=tile]')]
        .sort((a, b) => a.dataset.index - b.dataset.index)
        .map((t) => t.querySelector('.tile-name').textContent)"""))


def _open(page, world: World, query: str = "") -> None:  # type: ignore[no-untyped-def]
    page.goto(f"/c/{world.dataset_id}{query}")
    expect(page.get_by_role("button", name="Select all")).to_be_enabled()


@pytest.fixture
def world(studio, person, settings, database) -> World:  # type: ignore[no-untyped-def]
    return _world(studio, person, settings, database)


def test_open_a_collection_folders_breadcrumbs_and_badges(studio_page, studio, world, person,  # type: ignore[no-untyped-def]
                                                          settings, database) -> None:  # type: ignore[no-untyped-def]
    page = studio_page
    sign_in(page, person.email, PASSWORD)
    page.get_by_role("link", name="Trip", exact=True).click()  # the collection's card
    expect(page).to_have_url(re.compile(f"/c/{world.dataset_id}$"))
    expect(page.get_by_test_id("tile")).to_have_count(6)  # a folder and five items
    expect(page.get_by_test_id("total")).to_have_text("6 items")
    expect(page.get_by_test_id("waiting")).to_have_text("· 1 waiting")  # GET /api/queue
    # Newest first by default: the queued upload leads, the folder (made first) is last.
    assert _tile_names(page)[0] == "later.png" and _tile_names(page)[-1] == "Day 1"
    for photo in PHOTOS:
        thumb = _tile(page, f"{photo}.jpg").locator("img.thumb")
        expect(thumb).to_have_attribute("src", world.media(f"{photo}.jpg")["thumbnail"])
        expect(thumb).to_have_attribute("loading", "lazy")
        expect(thumb).to_have_js_property("complete", True)
        assert thumb.evaluate("i => i.naturalWidth") > 0
    expect(_tile(page, "Day 1").locator("img.folder-icon")).to_be_visible()

    # The status badges: queued, and failed with its reason on hover and on focus.
    expect(_tile(page, "later.png").get_by_test_id("badge")).to_have_text("Queued")
    failed = _tile(page, "cut.jpg")
    expect(failed.get_by_test_id("badge")).to_have_text("Failed")
    reason = failed.get_by_test_id("reason")
    expect(reason).to_be_hidden()
    failed.hover()
    expect(reason).to_be_visible()
    expect(reason).to_contain_text("cannot be decoded")
    shot(page, "failed-reason-on-hover")
    page.mouse.move(0, 0)
    expect(reason).to_be_hidden()
    failed.locator(".tile-link").focus()
    expect(reason).to_be_visible()
    expect(failed.locator(".tile-link")).to_have_attribute("aria-describedby",
                                                           f"reason-{world.ids['cut.jpg']}")
    expect(_tile(page, "astronaut.jpg").get_by_test_id("badge")).to_have_count(0)  # ready
    shot(page, "library")

    # Into a folder, deeper through the tree, back by the breadcrumbs.
    _tile(page, "Day 1").locator(".tile-link").click()
    crumbs = page.get_by_test_id("breadcrumbs")
    expect(crumbs).to_have_text(re.compile(r"Collections\s*\W?\s*Trip\s*\W?\s*Day 1"))
    expect(page).to_have_url(re.compile(r"path=" + world.folders["Day 1"]["path"]))
    expect(page.get_by_test_id("tile")).to_have_count(1)  # Morning
    tree = page.get_by_test_id("folder-tree")
    expect(tree.get_by_role("link", name="Day 1")).to_have_attribute("aria-current", "page")
    tree.get_by_role("link", name="Morning").click()
    expect(crumbs.locator("[aria-current=page]")).to_have_text("Morning")
    expect(_tile(page, "sunrise.png").locator("img.thumb")).to_have_js_property("complete", True)
    shot(page, "folder")
    crumbs.get_by_role("link", name="Trip").click()
    expect(page.get_by_test_id("tile")).to_have_count(6)

    # The queued item is processed while the page is open: its badge goes, its thumbnail comes.
    later = _tile(page, "later.png")
    expect(later.get_by_test_id("badge")).to_have_text("Queued")
    _drain(studio, settings, database, [world.ids["later.png"]])
    expect(later.get_by_test_id("badge")).to_have_count(0)
    expect(page.get_by_test_id("waiting")).to_be_hidden()  # nothing waits any more
    thumbnail = world.media("later.png")["thumbnail"]
    expect(later.locator("img.thumb")).to_have_attribute("src", thumbnail)

    # Only thumbnails were loaded: no original of any item.
    originals = world.originals()
    assert originals and not [u for u in page.context.visit.requests if u in originals]


def test_sort_and_filters_live_in_the_url(studio_page, world, person) -> None:  # type: ignore[no-untyped-def]
    assert world.api.post(f"/api/media/{world.ids['coffee.jpg']}/tags",
                          json={"label": "Drink", "value": "espresso"}).status_code in (200, 201)
    page = studio_page
    sign_in(page, person.email, PASSWORD, f"/c/{world.dataset_id}")
    expect(page.get_by_test_id("tile")).to_have_count(6)
    page.get_by_label("Sort by").select_option("name")
    page.get_by_label("Order").select_option("asc")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"sort=name.*dir=asc"))
    expect(page.get_by_test_id("tile")).to_have_count(6)
    assert _tile_names(page) == ["astronaut.jpg", "chelsea.jpg", "coffee.jpg", "cut.jpg",
                                 "Day 1", "later.png"]
    shot(page, "sorted-by-name")

    page.get_by_label("Type").select_option("folder")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"type=folder"))
    expect(page.get_by_test_id("tile")).to_have_count(1)
    page.get_by_role("link", name="Clear filters").click()
    expect(page.get_by_test_id("tile")).to_have_count(6)

    page.get_by_label("Tags (all of)").fill("Drink")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"tags=Drink"))
    expect(page.get_by_test_id("tile")).to_have_count(1)
    expect(_tile(page, "coffee.jpg")).to_have_count(1)
    shot(page, "tag-filter")

    page.goto(f"/c/{world.dataset_id}?from=2999-01-01")  # a date range nothing falls in
    expect(page.get_by_test_id("grid-empty")).to_have_text("Nothing matches these filters.")
    expect(page.get_by_label("Added from")).to_have_value("2999-01-01")
    shot(page, "nothing-matches")

    # A hand-made bad value is explained with the API's message, not a broken page.
    response = page.goto(f"/c/{world.dataset_id}?sort=bogus&from=yesterday")
    assert response is not None and response.status == 200
    expect(page.locator("#library-error")).to_contain_text(re.compile("sortBy|dateFrom"))
    shot(page, "bad-filter")


def test_keyboard(studio_page, world, person) -> None:  # type: ignore[no-untyped-def]
    page = studio_page
    sign_in(page, person.email, PASSWORD, f"/c/{world.dataset_id}?sort=name&dir=asc")
    expect(page.get_by_test_id("tile")).to_have_count(6)
    links = page.locator("[data-testid=tile] .tile-link")
    first = _tile(page, "astronaut.jpg").locator(".tile-link")
    expect(first).to_have_attribute("tabindex", "0")  # the one stop of the grid in the tab order
    first.focus()
    page.keyboard.press("ArrowRight")
    expect(_tile(page, "chelsea.jpg").locator(".tile-link")).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(first).to_be_focused()
    cols = page.evaluate("""() => new Set([...document.querySelectorAll('[data-testid=tile]')]
        .map((t) => t.getBoundingClientRect().top)).size""")
    assert cols >= 1
    page.keyboard.press("End")
    expect(_tile(page, "later.png").locator(".tile-link")).to_be_focused()
    page.keyboard.press("Home")
    page.keyboard.press("Space")
    expect(page.locator("#selection")).to_have_text("1 selected")
    page.keyboard.press("Shift+ArrowRight")
    expect(page.locator("#selection")).to_have_text("2 selected")
    expect(page.locator("[data-testid=tile].selected")).to_have_count(2)
    shot(page, "keyboard-selection")
    page.keyboard.press("Escape")
    expect(page.locator("#selection")).to_have_text("")
    expect(page.locator("[data-testid=tile].selected")).to_have_count(0)

    # Delete asks, then moves the focused item to the trash.
    _tile(page, "cut.jpg").locator(".tile-link").focus()
    page.keyboard.press("Delete")
    dialog = page.locator("#delete-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Move 1 item to the trash?")
    shot(page, "delete-asks")
    page.keyboard.press("Escape")  # cancel: nothing happens
    expect(dialog).to_be_hidden()
    assert world.api.get(f"/api/media/{world.ids['cut.jpg']}").status_code == 200
    _tile(page, "cut.jpg").locator(".tile-link").focus()
    page.keyboard.press("Delete")
    dialog.get_by_role("button", name="Move to the trash").click()
    expect(_tile(page, "cut.jpg")).to_have_count(0)
    expect(links).to_have_count(5)
    assert world.api.get(f"/api/media/{world.ids['cut.jpg']}").status_code == 404

    # Enter opens the item's media view.
    _tile(page, "chelsea.jpg").locator(".tile-link").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(f"/m/{world.ids['chelsea.jpg']}$"))


def test_bulk_move_tag_delete_trash_and_restore(studio_page, studio, world, person, settings,  # type: ignore[no-untyped-def]
                                                database) -> None:  # type: ignore[no-untyped-def]
    page = studio_page
    sign_in(page, person.email, PASSWORD, f"/c/{world.dataset_id}?sort=name&dir=asc")
    expect(page.get_by_test_id("tile")).to_have_count(6)
    # The tile's checkbox, then shift-click extends, ctrl-click toggles one.
    _tile(page, "astronaut.jpg").hover()
    _tile(page, "astronaut.jpg").get_by_role("checkbox").check()
    expect(page.locator("#selection")).to_have_text("1 selected")
    _tile(page, "coffee.jpg").click(modifiers=["Shift"])
    expect(page.locator("#selection")).to_have_text("3 selected")
    _tile(page, "chelsea.jpg").click(modifiers=["Control"])
    expect(page.locator("#selection")).to_have_text("2 selected")
    assert page.url.endswith("dir=asc")  # selecting never navigates
    shot(page, "selected")

    page.get_by_role("button", name="Tag…").click()
    page.get_by_label("Tag group").fill("Trip")
    page.get_by_label("Value").fill("Alps")
    page.get_by_role("button", name="Add tag").click()
    expect(page.locator("#toast")).to_have_text("Tagged 2 items.")
    for name in ("astronaut.jpg", "coffee.jpg"):
        assert world.media(name)["metadata"]["tags"] == {"Trip": ["Alps"]}
    assert "Trip" not in (world.media("chelsea.jpg")["metadata"].get("tags") or {})

    _tile(page, "astronaut.jpg").get_by_role("checkbox").check()
    _tile(page, "coffee.jpg").get_by_role("checkbox").check()
    page.get_by_role("button", name="Move…").click()
    target = page.get_by_label("Folder", exact=True)
    expect(target.locator("option")).to_have_count(3)  # top level, Day 1, Day 1 / Morning
    target.select_option(label="Day 1 / Morning")
    shot(page, "move-dialog")
    page.get_by_role("button", name="Move", exact=True).click()
    expect(page.locator("#toast")).to_have_text("Moved 2 items.")
    expect(page.get_by_test_id("tile")).to_have_count(4)
    assert world.media("coffee.jpg")["path"].startswith(world.folders["Morning"]["path"] + ".")

    # Select all, deselect the folder, delete the rest to the trash.
    page.get_by_role("button", name="Select all").click()
    expect(page.locator("#selection")).to_have_text("4 selected")
    _tile(page, "Day 1").get_by_role("checkbox").uncheck()
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("button", name="Move to the trash").click()
    expect(page.locator("#toast")).to_have_text("Moved to the trash 3 items.")
    expect(page.get_by_test_id("tile")).to_have_count(1)

    page.get_by_test_id("trash-link").click()
    trashed = page.get_by_test_id("trashed")
    expect(trashed).to_have_count(3)
    expect(page.get_by_test_id("total")).to_have_text("3 items")
    shot(page, "trash")
    trashed.filter(has_text="chelsea.jpg").get_by_role("button", name="Restore").click()
    expect(page.locator("#toast")).to_have_text("Restored chelsea.jpg.")
    expect(trashed).to_have_count(2)
    # The owner may delete for good (it asks first).
    later = trashed.filter(has_text="later.png")
    later.get_by_role("button", name="Delete later.png for good").click()
    page.get_by_role("button", name="Delete for good").click()
    expect(trashed).to_have_count(1)
    _drain(studio, settings, database, [world.ids["later.png"]])  # its purge, queued
    trash = world.api.get(f"/api/dataset/{world.dataset_id}/trash").json()
    assert trash["pagination"]["total"] == 1
    shot(page, "trash-after")
    page.get_by_test_id("breadcrumbs").get_by_role("link", name="Trip").click()
    expect(_tile(page, "chelsea.jpg")).to_have_count(1)
    expect(page.get_by_test_id("tile")).to_have_count(2)


def test_a_viewer_browses_but_changes_nothing(studio_page, studio, world, person, make_member,  # type: ignore[no-untyped-def]
                                               database) -> None:
    from coreviz_studio.accounts import service as accounts
    from coreviz_studio.db.tables import Organization

    with database.sessions() as s:
        org_name = s.get(Organization, person.org_id).name
    viewer = make_member(org=org_name, role="viewer")
    with database.sessions() as s:
        accounts.set_password(s, viewer.email, PASSWORD)
        s.commit()
    page = studio_page
    sign_in(page, viewer.email, PASSWORD, f"/c/{world.dataset_id}")
    expect(page.get_by_test_id("tile")).to_have_count(6)
    _tile(page, "astronaut.jpg").get_by_role("checkbox").check()
    expect(page.get_by_role("button", name="Move…")).to_have_count(0)
    page.keyboard.press("Delete")
    expect(page.locator("dialog[open]")).to_have_count(0)
    page.goto(f"/c/{world.dataset_id}/trash")
    expect(page.get_by_test_id("trash-empty")).to_be_visible()


def test_not_found_and_bad_paths(studio_page, world, person, make_member) -> None:  # type: ignore[no-untyped-def]
    page = studio_page
    sign_in(page, person.email, PASSWORD)
    stranger = make_member()  # another organization's collection: the same "not found"
    theirs = httpx.post(f"{world.api.base_url}/api/organization/{stranger.org_id}/datasets",
                        headers=stranger.headers, json={"name": "Theirs"}).json()["id"]
    for path, status in ((f"/c/{uuid.uuid4()}", 404), (f"/c/{theirs}", 404),
                         ("/c/not-an-id", 400), (f"/c/{world.dataset_id}?path=zz", 400),
                         (f"/c/{world.dataset_id}?path={world.dataset_id}.{uuid.uuid4().hex}", 404),
                         (f"/c/{theirs}/trash", 404)):
        response = page.goto(path)
        assert response is not None and response.status == status, path
        expect(page.get_by_test_id("library-problem")).not_to_be_empty()
    shot(page, "not-found")


def test_virtual_scrolling_keeps_few_tiles(studio_page, studio, person, database) -> None:  # type: ignore[no-untyped-def]
    api = httpx.Client(base_url=studio.url, headers=person.headers, timeout=60)
    dataset_id = api.post(f"/api/organization/{person.org_id}/datasets",
                          json={"name": "Big"}).json()["id"]
    seeded = seed_items(database.engine, studio.data_dir / "blobs", person.org_id, dataset_id,
                        3000)
    page = studio_page
    sign_in(page, person.email, PASSWORD, f"/c/{dataset_id}")
    expect(page.get_by_test_id("total")).to_have_text("3,000 items")
    expect(page.locator("[data-testid=tile] img.thumb").first).to_be_visible()
    drawn = page.locator("#grid > li").count()
    assert 10 < drawn < 250, drawn
    # The keyboard walks the rows, drawing them as it goes: down is one row (as many tiles as
    # there are columns), End is the very last item, 3,000 tiles away.
    first = _tile(page, "item-003000.jpg").locator(".tile-link")  # the newest
    first.focus()
    cols = page.evaluate("""() => { const tops = [...document.querySelectorAll(
        '[data-testid=tile]')].map((t) => t.getBoundingClientRect().top);
        return tops.filter((t) => t === Math.min(...tops)).length; }""")
    page.keyboard.press("ArrowDown")
    expect(_tile(page, f"item-{3000 - cols:06d}.jpg").locator(".tile-link")).to_be_focused()
    page.keyboard.press("End")
    last = _tile(page, "item-000001.jpg")  # the oldest
    expect(last.locator(".tile-link")).to_be_focused()
    expect(last).to_be_in_viewport()
    assert page.locator("#grid > li").count() < 250
    page.evaluate("window.scrollTo(0, document.body.scrollHeight / 2)")
    expect(_tile(page, "item-001500.jpg")).to_have_count(1)  # the middle, drawn when seen
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    expect(_tile(page, "item-000001.jpg")).to_be_visible()  # the oldest, last (newest first)
    assert page.locator("#grid > li").count() < 250
    shot(page, "scrolled-to-the-end", full_page=False)
    requested = page.context.visit.requests
    assert not [u for u in requested if seeded.original_key in u]  # never an original
    assert [u for u in requested if seeded.thumbnail_keys[0] in u]


def test_library_on_a_phone(browser, studio, world, person) -> None:  # type: ignore[no-untyped-def]
    context = open_context(browser, studio, PHONE)
    page = context.new_page()
    sign_in(page, person.email, PASSWORD, f"/c/{world.dataset_id}")
    expect(page.get_by_test_id("tile")).to_have_count(6)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert not page.locator("#folders").evaluate("d => d.open")  # folded away on a phone
    width = _tile(page, "astronaut.jpg").evaluate("t => t.getBoundingClientRect().width")
    assert 100 <= width <= 200, width
    shot(page, "phone")
    page.locator("#folders summary").click()
    expect(page.get_by_test_id("folder-tree").get_by_role("link", name="Day 1")).to_be_visible()
    _tile(page, "chelsea.jpg").get_by_role("checkbox").check()
    expect(page.get_by_role("button", name="Move…")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "phone-selected")
    context.close()
    assert context.visit.outside() == []
