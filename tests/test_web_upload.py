"""The uploader in a real browser, through the real tus endpoint and the real pipeline: a folder
tree of real photos, a video and a PDF picked with the folder picker (the tree is recreated as
folders), files and a folder dropped on a collection's library view, progress to 100% and processing
to ready; a chunk whose answer is lost on the way (resumed from HEAD's offset, the bytes
right), a full disk (Retry), cancel (tus DELETE), a file too large and one of no supported
type; and the dialog on a phone-sized screen."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.sync_api import expect

from tests import media_files
from tests.browser import PHONE, open_context, shot, sign_in
from tests.conftest import PASSWORD
from tests.jobs import drain, pipeline

pytestmark = pytest.mark.usefixtures("fresh_sign_in_limits")


def _api(studio, member) -> httpx.Client:  # type: ignore[no-untyped-def]
    return httpx.Client(base_url=studio.url, headers=member.headers, timeout=30)


def _collection(studio, member, name: str) -> str:  # type: ignore[no-untyped-def]
    made = _api(studio, member).post(f"/api/organization/{member.org_id}/datasets",
                                     json={"name": name})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _children(studio, member, dataset_id: str, path: str | None = None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    params: dict[str, Any] = {"limit": 100}
    if path:
        params["path"] = path
    r = _api(studio, member).get(f"/api/dataset/{dataset_id}/media", params=params)
    assert r.status_code == 200, r.text
    return {m["name"]: m for m in r.json()["media"]}


def _everything(studio, member, dataset_id: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    r = _api(studio, member).get(f"/api/dataset/{dataset_id}/media",
                                 params={"recursive": "true", "limit": 100, "type": "all"})
    return [m for m in r.json()["media"] if m["type"] != "folder"]


def _drain(studio, settings, database, media: list[dict[str, Any]]) -> None:  # type: ignore[no-untyped-def]
    """Run these items' processing on the server's own blob store (in a thread of its own:
    the worker runs an asyncio loop, and Playwright's sync API holds this thread's)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(drain, pipeline(settings, database, models="none",
                                    blob_dir=studio.data_dir / "blobs"),
                    [m["id"] for m in media]).result()


def _big_photo() -> bytes:
    """A real photo with film grain, large enough (over 1 MiB) to take several small chunks."""
    import numpy as np

    pixels = np.asarray(Image.open(io.BytesIO(media_files.photo("astronaut")))
                        .resize((1400, 1400)), dtype=np.int16)
    grain = np.random.default_rng(7).integers(-12, 13, pixels.shape, dtype=np.int16)
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels + grain, 0, 255).astype(np.uint8)).save(out, "JPEG",
                                                                           quality=95)
    return out.getvalue()


def _open_uploader(page, name: str):  # type: ignore[no-untyped-def]
    card = page.get_by_test_id("collection").filter(
        has=page.get_by_role("heading", name=name, exact=True))
    card.get_by_role("button", name="Upload").click()
    dialog = page.get_by_test_id("upload-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_have_text(f"Upload to {name}")
    return dialog


def _small_chunks(page, size: int = 128 * 1024) -> None:  # type: ignore[no-untyped-def]
    page.add_init_script(f"localStorage.setItem('coreviz.uploadChunkBytes', '{size}')")


def test_a_folder_tree_is_recreated_and_processed(studio_page, studio, person, settings,  # type: ignore[no-untyped-def]
                                                  database, tmp_path: Path) -> None:
    dataset_id = _collection(studio, person, "Trip 2026")
    root = tmp_path / "Trip"
    files = {
        "Été 1/IMG_0001.jpg": media_files.photo("chelsea"),
        "Été 1/evening/IMG_0002.jpg": media_files.photo("rocket"),
        "clip.mp4": media_files.video_with_cut(tmp_path / "clip.mp4"),
        "notes.pdf": media_files.pdf_with_text(["Packing list", "Tickets and maps"]),
        ".DS_Store": b"\0\0\0\1Bud1",
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    page = studio_page
    sign_in(page, person.email, PASSWORD)
    dialog = _open_uploader(page, "Trip 2026")
    shot(page, "dialog")
    dialog.locator("input.pick-folder").set_input_files(root)

    items = dialog.get_by_test_id("upload-item")
    expect(items).to_have_count(4)  # the hidden file is skipped, and said so
    expect(dialog.get_by_test_id("upload-note")).to_have_text(
        re.compile("1 hidden file .* skipped"))
    expect(dialog.get_by_test_id("upload-total-text")).to_have_text(
        re.compile(r"^4 of 4 uploaded · 100% of "))
    expect(dialog.get_by_test_id("upload-total")).to_have_attribute("value", "100")
    for item in items.all():
        expect(item.get_by_test_id("upload-status")).to_have_text(
            "Uploaded · queued for processing")
    shot(page, "uploaded")

    # The tree, as the API sees it: Trip/{Été 1/{IMG_0001, evening/{IMG_0002}}, clip, notes}.
    top = _children(studio, person, dataset_id)
    assert set(top) == {"Trip"} and top["Trip"]["type"] == "folder"
    trip = _children(studio, person, dataset_id, top["Trip"]["path"])
    assert set(trip) == {"Été 1", "clip.mp4", "notes.pdf"}
    assert (trip["clip.mp4"]["type"], trip["notes.pdf"]["type"]) == ("video", "pdf")
    day1 = _children(studio, person, dataset_id, trip["Été 1"]["path"])
    assert set(day1) == {"IMG_0001.jpg", "evening"}
    evening = _children(studio, person, dataset_id, day1["evening"]["path"])
    assert set(evening) == {"IMG_0002.jpg"}
    media = _everything(studio, person, dataset_id)
    assert {m["name"]: m["sha256"] for m in media} == {
        Path(rel).name: hashlib.sha256(data).hexdigest()
        for rel, data in files.items() if not rel.startswith(".")}

    _drain(studio, settings, database, media)
    for item in items.all():  # the page polls until each is ready
        expect(item.get_by_role("link", name="Ready")).to_be_visible(timeout=30_000)
    ready = items.filter(has_text="IMG_0002.jpg").get_by_role("link", name="Ready")
    expect(ready).to_have_attribute("href", f"/m/{evening['IMG_0002.jpg']['id']}")
    shot(page, "ready")
    page.keyboard.press("Escape")  # the dialog closes from the keyboard, and the page
    expect(dialog).to_be_hidden()  # reloads to show the new count and cover
    card = page.get_by_test_id("collection").filter(has_text="Trip 2026")
    expect(card.locator(".count")).to_have_text("4 items")
    expect(card.locator("img.cover")).to_be_visible()


def _fake_folder_drop(page, selector: str, tree: dict[str, bytes]) -> None:  # type: ignore[no-untyped-def]
    """Drop a folder on `selector`: a drop event whose items are directory entries, as
    Chromium gives for a folder dragged from the desktop (webkitGetAsEntry), built in the page
    from real files' bytes (a page cannot make real directory entries itself)."""
    page.evaluate("""([selector, tree]) => {
      const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dir = (name, fullPath) => ({
        isFile: false, isDirectory: true, name, fullPath, children: [],
        createReader() {
          let done = false;
          const kids = this.children;
          return { readEntries(ok) { const batch = done ? [] : kids; done = true; ok(batch); } };
        } });
      const roots = new Map();
      for (const [path, b64] of Object.entries(tree)) {
        const parts = path.split("/");
        let parent = null;
        for (let i = 0; i < parts.length - 1; i++) {
          const at = parts.slice(0, i + 1).join("/");
          let node = roots.get(at);
          if (!node) {
            node = dir(parts[i], "/" + at);
            roots.set(at, node);
            if (parent) parent.children.push(node);
          }
          parent = node;
        }
        const file = new File([bytes(b64)], parts.at(-1));
        parent.children.push({ isFile: true, isDirectory: false, name: file.name,
                               file(ok) { ok(file); } });
      }
      const top = [...roots.entries()].filter(([k]) => !k.includes("/")).map(([, v]) => v);
      const transfer = { types: ["Files"], files: [], items: top.map((entry) => ({ kind: "file",
        webkitGetAsEntry: () => entry, getAsFile: () => null })) };
      const event = new Event("drop", { bubbles: true, cancelable: true });
      Object.defineProperty(event, "dataTransfer", { value: transfer });
      document.querySelector(selector).dispatchEvent(event);
    }""", [selector, {k: base64.b64encode(v).decode() for k, v in tree.items()}])


def test_drops_on_the_library_view(studio_page, studio, person) -> None:  # type: ignore[no-untyped-def]
    dataset_id = _collection(studio, person, "Scans")
    page = studio_page
    sign_in(page, person.email, PASSWORD, path=f"/c/{dataset_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Scans")
    expect(page.get_by_role("button", name="Upload")).to_be_enabled()
    expect(page.get_by_test_id("grid-empty")).to_be_visible()
    photo = media_files.photo("coffee")
    # Plain files, as a DataTransfer carries them.
    page.evaluate("""([b64]) => {
      const transfer = new DataTransfer();
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      transfer.items.add(new File([bytes], "coffee.jpg", { type: "image/jpeg" }));
      document.querySelector(".library[data-upload-drop]").dispatchEvent(
        new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }""", [base64.b64encode(photo).decode()])
    dialog = page.get_by_test_id("upload-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_test_id("upload-item")).to_have_count(1)
    expect(dialog.get_by_test_id("upload-total-text")).to_have_text(re.compile("^1 of 1 uploaded"))
    # A folder with a subfolder, dropped on the dialog's drop zone.
    page_pdf = media_files.pdf(pages=1)
    _fake_folder_drop(page, "[data-testid=dropzone]",
                      {"Receipts/2026/march.pdf": page_pdf, "Receipts/cover.jpg": photo})
    expect(dialog.get_by_test_id("upload-item")).to_have_count(3)
    expect(dialog.get_by_test_id("upload-total-text")).to_have_text(
        re.compile("^3 of 3 uploaded · 100%"))
    expect(dialog.get_by_test_id("upload-item").filter(
        has_text="Receipts/2026/march.pdf")).to_be_visible()
    shot(page, "dropped")
    top = _children(studio, person, dataset_id)
    assert set(top) == {"coffee.jpg", "Receipts"}
    receipts = _children(studio, person, dataset_id, top["Receipts"]["path"])
    assert set(receipts) == {"2026", "cover.jpg"}
    year = _children(studio, person, dataset_id, receipts["2026"]["path"])
    assert set(year) == {"march.pdf"}
    assert year["march.pdf"]["sha256"] == hashlib.sha256(page_pdf).hexdigest()
    # Closing the dialog shows them in the library's grid.
    page.get_by_role("button", name="Close the uploader").click()
    expect(page.get_by_test_id("grid").get_by_text("coffee.jpg")).to_be_visible()
    expect(page.get_by_test_id("grid").get_by_text("Receipts")).to_be_visible()
    shot(page, "in-the-library")


def test_a_lost_answer_is_resumed_from_the_servers_offset(studio_page, studio, person) -> None:  # type: ignore[no-untyped-def]
    dataset_id = _collection(studio, person, "Resume")
    photo = _big_photo()
    chunk = 128 * 1024
    assert len(photo) > 5 * chunk
    page = studio_page
    _small_chunks(page, chunk)
    sent: list[tuple[str, str | None]] = []
    page.on("request", lambda r: sent.append((r.method, r.headers.get("upload-offset")))
            if "/api/upload/tus/" in r.url else None)
    patches = {"n": 0}

    def lose_the_third_answer(route) -> None:  # type: ignore[no-untyped-def]
        if route.request.method != "PATCH":
            route.continue_()
            return
        patches["n"] += 1
        if patches["n"] == 3:
            route.fetch()  # the server takes the chunk and answers; the answer never arrives
            route.abort("internetdisconnected")
        elif patches["n"] == 5:  # another request holds the upload (docs/uploads.md)
            route.fulfill(status=423, content_type="application/json",
                          headers={"Tus-Resumable": "1.0.0"},
                          body='{"error": "Locked", "message": "The upload is busy."}')
        else:
            route.continue_()
    page.route("**/api/upload/tus/*", lose_the_third_answer)
    sign_in(page, person.email, PASSWORD)
    dialog = _open_uploader(page, "Resume")
    dialog.locator("input.pick-files").set_input_files(
        files=[{"name": "big.jpg", "mimeType": "image/jpeg", "buffer": photo}])
    item = dialog.get_by_test_id("upload-item")
    expect(item.get_by_test_id("upload-status")).to_have_text("Uploaded · queued for processing",
                                                              timeout=30_000)
    expect(dialog.get_by_test_id("upload-total")).to_have_attribute("value", "100")
    # After the lost answer the client asked HEAD, then went on from the server's offset (the
    # third chunk's end), not from where its own answer left it.
    heads = [i for i, (method, _) in enumerate(sent) if method == "HEAD"]
    assert len(heads) == 2, sent  # once after the lost answer, once after the 423
    after = [offset for method, offset in sent[heads[0]:] if method == "PATCH"]
    assert after and after[0] == str(3 * chunk), sent
    locked = [offset for method, offset in sent[:heads[1]] if method == "PATCH"][-1]
    again = next(offset for method, offset in sent[heads[1]:] if method == "PATCH")
    assert locked == again == str(4 * chunk), sent  # the same chunk, sent again
    media = _everything(studio, person, dataset_id)
    assert [(m["name"], m["sha256"], m["sizeBytes"]) for m in media] == [
        ("big.jpg", hashlib.sha256(photo).hexdigest(), len(photo))]
    shot(page, "resumed")


def test_offline_mid_upload_then_back(studio_page, studio, person) -> None:  # type: ignore[no-untyped-def]
    dataset_id = _collection(studio, person, "Offline")
    photo = _big_photo()
    page = studio_page
    _small_chunks(page)
    patches = {"n": 0}

    def cut_the_network(route) -> None:  # type: ignore[no-untyped-def]
        if route.request.method == "PATCH":
            patches["n"] += 1
            if patches["n"] == 2:  # the network goes away during the second chunk
                page.context.set_offline(True)
                route.abort("internetdisconnected")
                return
        route.continue_()
    page.route("**/api/upload/tus/*", cut_the_network)
    sign_in(page, person.email, PASSWORD)
    dialog = _open_uploader(page, "Offline")
    dialog.locator("input.pick-files").set_input_files(
        files=[{"name": "offline.jpg", "mimeType": "image/jpeg", "buffer": photo}])
    status = dialog.get_by_test_id("upload-item").get_by_test_id("upload-status")
    expect(status).to_have_text(re.compile(r"^The connection was lost\. Trying again \(\d\)…$"))
    shot(page, "offline")
    page.context.set_offline(False)  # back online: the client wakes, asks HEAD, goes on
    expect(status).to_have_text("Uploaded · queued for processing", timeout=30_000)
    media = _everything(studio, person, dataset_id)
    assert [(m["name"], m["sha256"]) for m in media] == [
        ("offline.jpg", hashlib.sha256(photo).hexdigest())]


def test_full_disk_retry_and_cancel(studio_page, studio, person) -> None:  # type: ignore[no-untyped-def]
    dataset_id = _collection(studio, person, "Full")
    photo = _big_photo()
    page = studio_page
    _small_chunks(page)
    full = {"on": True}
    deleted: list[str] = []
    page.on("request", lambda r: deleted.append(r.url) if r.method == "DELETE" else None)

    def disk(route) -> None:  # type: ignore[no-untyped-def]
        if route.request.method == "PATCH" and full["on"]:
            route.fulfill(status=507, content_type="application/json",
                          headers={"Tus-Resumable": "1.0.0", "Retry-After": "60"},
                          body=json.dumps({"error": "Insufficient Storage", "code": "disk_full",
                                           "message": "The server's disk is full, so the file "
                                                      "could not be stored."}))
        else:
            route.continue_()
    page.route("**/api/upload/tus/*", disk)
    sign_in(page, person.email, PASSWORD)
    dialog = _open_uploader(page, "Full")
    dialog.locator("input.pick-files").set_input_files(files=[
        {"name": "one.jpg", "mimeType": "image/jpeg", "buffer": photo},
        {"name": "two.jpg", "mimeType": "image/jpeg", "buffer": photo[:-10] + b"2" * 10}])
    items = dialog.get_by_test_id("upload-item")
    for item in items.all():
        expect(item.get_by_test_id("upload-status")).to_have_text(re.compile("disk is full"))
        expect(item.get_by_role("button", name="Retry")).to_be_visible()
    expect(dialog.get_by_test_id("upload-total-text")).to_have_text(re.compile("2 failed"))
    shot(page, "disk-full")
    # The disk has room again: Retry sends the first; the second is canceled (tus DELETE).
    full["on"] = False
    one, two = items.filter(has_text="one.jpg"), items.filter(has_text="two.jpg")
    one.get_by_role("button", name="Retry").click()
    expect(one.get_by_test_id("upload-status")).to_have_text("Uploaded · queued for processing",
                                                             timeout=30_000)
    with page.expect_response(lambda r: r.request.method == "DELETE") as deleting:
        two.get_by_role("button", name="Cancel two.jpg").click()
    assert deleting.value.status == 204
    expect(two.get_by_test_id("upload-status")).to_have_text("Canceled")
    assert deleted == [deleting.value.url]
    gone = _api(studio, person).head(deleting.value.url.replace(studio.url, ""),
                                     headers={"Tus-Resumable": "1.0.0"})
    assert gone.status_code == 404
    expect(dialog.get_by_test_id("upload-total-text")).to_have_text(re.compile("^1 of 1 uploaded"))
    assert [m["name"] for m in _everything(studio, person, dataset_id)] == ["one.jpg"]
    shot(page, "retried-and-canceled")


def test_refusals_are_said_plainly(studio_page, studio, person) -> None:  # type: ignore[no-untyped-def]
    _collection(studio, person, "Picky")
    _collection(studio, person, "Other")
    page = studio_page

    def small_server(route) -> None:  # type: ignore[no-untyped-def]
        if route.request.method == "OPTIONS":  # as a server with COREVIZ_MAX_UPLOAD_BYTES=50000
            route.fulfill(status=204, headers={"Tus-Resumable": "1.0.0", "Tus-Version": "1.0.0",
                                               "Tus-Max-Size": "50000"})
        else:
            route.continue_()
    page.route("**/api/upload/tus", small_server)
    sign_in(page, person.email, PASSWORD)
    dialog = _open_uploader(page, "Picky")
    dialog.locator("input.pick-files").set_input_files(files=[
        {"name": "huge.jpg", "mimeType": "image/jpeg", "buffer": _big_photo()},
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"just some words\n" * 100},
        {"name": "empty.jpg", "mimeType": "image/jpeg", "buffer": b""}])
    items = dialog.get_by_test_id("upload-item")
    huge, notes, empty = (items.filter(has_text=n) for n in ("huge.jpg", "notes.txt", "empty.jpg"))
    expect(huge.get_by_test_id("upload-status")).to_have_text(
        "Too large: 855 KiB; this server takes files up to 49 KiB.")
    expect(notes.get_by_test_id("upload-status")).to_have_text(
        re.compile("not supported|type", re.I))
    expect(empty.get_by_test_id("upload-status")).to_have_text("The file is empty.")
    for item in (huge, notes, empty):  # retrying cannot help these; nothing is kept to cancel
        expect(item.get_by_role("button", name="Retry")).to_be_hidden()
        expect(item.get_by_role("button", name=re.compile("^Cancel"))).to_be_hidden()
        expect(item.locator("progress")).to_have_attribute("value", "0")
    expect(dialog.get_by_test_id("upload-total-text")).to_have_text(re.compile("3 failed"))
    shot(page, "refused")
    # Opening it for another collection clears what is over for this one.
    dialog.get_by_role("button", name="Close the uploader").click()
    dialog = _open_uploader(page, "Other")
    expect(dialog.get_by_test_id("upload-item")).to_have_count(0)


def test_the_uploader_on_a_phone(browser, studio, person) -> None:  # type: ignore[no-untyped-def]
    _collection(studio, person, "Phone")
    context = open_context(browser, studio, viewport=PHONE)
    try:
        page = context.new_page()
        sign_in(page, person.email, PASSWORD)
        dialog = _open_uploader(page, "Phone")
        dialog.locator("input.pick-files").set_input_files(
            files=[{"name": "a-rather-long-file-name-from-a-phone-camera-20260101.jpg",
                    "mimeType": "image/jpeg", "buffer": media_files.photo("astronaut")}])
        expect(dialog.get_by_test_id("upload-total-text")).to_have_text(re.compile("^1 of 1"))
        box = dialog.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        # The pickers are reachable from the keyboard.
        dialog.get_by_role("button", name="Close the uploader").focus()
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.dataset.testid") == "dropzone"
        shot(page, "phone")
        assert not context.visit.outside()
    finally:
        context.close()
