"""The settings page in a real browser: an API key created with a scope, copied once and used
against the API with exactly that scope, then revoked; inviting someone whose invitation link
is accepted in a second browser; changing a role (and the API's refusal for the last owner);
canceling an invitation; what a viewer sees; a phone-sized screen."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.sync_api import expect

from coreviz_studio.accounts import service as accounts
from tests import media_files
from tests.browser import PHONE, open_context, sign_in
from tests.browser import shot as _shot
from tests.conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("fresh_sign_in_limits")


def _collection(studio, member, name: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A collection with one photo: (collection id, media id)."""
    api = httpx.Client(base_url=studio.url, headers=member.headers, timeout=30)
    made = api.post(f"/api/organization/{member.org_id}/datasets", json={"name": name})
    assert made.status_code == 201, made.text
    up = api.post("/api/upload/multipart", data={"datasetId": made.json()["id"]},
                  files={"file": ("p.png", media_files.image("PNG"), "image/png")})
    assert up.status_code == 201, up.text
    return str(made.json()["id"]), str(up.json()["mediaId"])


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """A whole-page screenshot taken from the top (a page scrolled down would show its sticky
    header in the middle of the picture)."""
    page.evaluate("window.scrollTo(0, 0)")
    _shot(page, name)


def _newcomer(database) -> str:  # type: ignore[no-untyped-def]
    email = f"new-{uuid.uuid4().hex[:10]}@example.org"
    with database.sessions() as s:
        accounts.create_user(s, email, "Newcomer", password=PASSWORD)
        s.commit()
    return email


def _open_settings(page) -> None:  # type: ignore[no-untyped-def]
    """From any page, through the user menu, as a person would."""
    page.get_by_label("Account menu").click()
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()


def _key_row(page, name: str):  # type: ignore[no-untyped-def]
    return page.get_by_test_id("key").filter(has=page.get_by_text(name, exact=True))


def test_a_scoped_key_shown_once_works_with_its_scope_then_revoked(browser, studio, person) -> None:  # type: ignore[no-untyped-def]
    alpha, alpha_photo = _collection(studio, person, "Alpha")
    beta, _ = _collection(studio, person, "Beta")
    context = open_context(browser, studio)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=studio.url)
    page = context.new_page()
    sign_in(page, person.email, PASSWORD)
    expect(page.get_by_role("heading", name="Collections")).to_be_visible()
    _open_settings(page)
    expect(page).to_have_url(re.compile("/settings$"))
    expect(page.get_by_role("button", name="Create key")).to_be_enabled()

    page.get_by_label("Name", exact=True).fill("Read Alpha")
    page.get_by_label("Expires").select_option(label="In 30 days")
    page.get_by_role("checkbox", name=re.compile("Read-only")).check()
    only = page.get_by_label("Only these:")
    only.check()
    page.locator("#key-collections").get_by_label("Alpha").check()
    shot(page, "key-form")
    page.get_by_role("button", name="Create key").click()

    shown = page.get_by_role("region", name="Your new key")
    expect(shown).to_be_visible()
    expect(shown).to_contain_text("you won't see it again")
    value = page.get_by_test_id("new-key-value").input_value()
    assert value and len(value) > 20
    shown.get_by_role("button", name="Copy").click()
    expect(shown.get_by_text("Copied.")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == value
    shot(page, "key-shown-once")

    # The key does what its scope says, and nothing more.
    key = {"x-api-key": page.evaluate("navigator.clipboard.readText()")}
    api = httpx.Client(base_url=studio.url, timeout=30)
    seen = api.get(f"/api/dataset/{alpha}/media", headers=key)
    assert seen.status_code == 200 and [m["id"] for m in seen.json()["media"]] == [alpha_photo]
    assert api.get(f"/api/dataset/{beta}/media", headers=key).status_code == 404
    listed = api.get(f"/api/organization/{person.org_id}/datasets", headers=key).json()
    names = [d["name"] for d in (listed["datasets"] if isinstance(listed, dict) else listed)]
    assert names == ["Alpha"]
    write = api.patch(f"/api/media/{alpha_photo}", headers=key, json={"name": "renamed"})
    assert write.status_code == 403, write.text
    assert api.post(f"/api/organization/{person.org_id}/datasets", headers=key,
                    json={"name": "nope"}).status_code == 403

    page.get_by_role("button", name="I have copied it").click()
    row = _key_row(page, "Read Alpha")
    expect(row).to_contain_text("Read-only · Alpha")
    expect(row).to_contain_text("last used")
    expect(row).to_contain_text("expires")
    assert value not in page.content()  # shown once: never again
    shot(page, "key-listed")

    row.get_by_role("button", name="Revoke").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text('Revoke the key "Read Alpha"?')
    shot(page, "revoke-confirm")
    dialog.get_by_role("button", name="Keep").click()  # changed their mind: nothing happens
    expect(dialog).to_be_hidden()
    assert api.get(f"/api/dataset/{alpha}/media", headers=key).status_code == 200
    row.get_by_role("button", name="Revoke").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    expect(_key_row(page, "Read Alpha").locator(".badge")).to_have_text("revoked")
    expect(_key_row(page, "Read Alpha")).to_contain_text(re.compile(r"revoked \d{4}-\d\d-\d\d"))
    expect(_key_row(page, "Read Alpha").get_by_role("button", name="Revoke")).to_have_count(0)
    assert api.get(f"/api/dataset/{alpha}/media", headers=key).status_code == 401
    shot(page, "key-revoked")

    # Bad input gets the reason, not a broken page.
    page.get_by_label("Only these:").check()
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#keys-error")).to_have_text(
        "Choose at least one collection, or every collection.")
    context.close()
    assert context.visit.outside() == []


def test_invite_accept_change_role_what_a_viewer_sees(browser, studio, person, database) -> None:  # type: ignore[no-untyped-def]
    email = _newcomer(database)
    owner_context = open_context(browser, studio)
    owner_context.grant_permissions(["clipboard-read", "clipboard-write"], origin=studio.url)
    owner = owner_context.new_page()
    sign_in(owner, person.email, PASSWORD, path="/settings")
    expect(owner.get_by_role("button", name="Invite")).to_be_enabled()
    owner.get_by_label("Email to invite").fill(email)
    owner.get_by_label("Role", exact=True).select_option("viewer")
    owner.get_by_role("button", name="Invite").click()
    pending = owner.get_by_test_id("invitation").filter(has_text=email)
    expect(pending).to_contain_text("as viewer")
    link = pending.get_by_label(f"Invitation link for {email}")
    expect(link).to_have_value(re.compile(r"^http://127\.0\.0\.1:\d+/accept-invitation/"))
    pending.get_by_role("button", name="Copy link").click()
    expect(owner.get_by_role("status").filter(has_text="Invitation link copied.")).to_be_visible()
    copied = owner.evaluate("navigator.clipboard.readText()")
    assert copied == link.input_value()
    shot(owner, "invited")

    # The invitee, in a browser of their own, opens the link they were given.
    invitee_context = open_context(browser, studio)
    invitee = invitee_context.new_page()
    invitee.goto(copied)
    sign_in(invitee, email, PASSWORD, path=invitee.url)
    invitee.get_by_role("button", name="Accept and join").click()
    expect(invitee.get_by_role("heading", name="Collections")).to_be_visible()

    owner.reload()
    expect(owner.get_by_test_id("invitation").filter(has_text=email)).to_have_count(0)
    newcomer = owner.get_by_test_id("member").filter(has_text=email)
    expect(newcomer.get_by_label(f"Role of {email}")).to_have_value("viewer")

    # A viewer sees the members and their own keys, and no control they cannot use.
    _open_settings(invitee)
    expect(invitee.get_by_test_id("my-role")).to_have_text("viewer")
    expect(invitee.get_by_test_id("member")).to_have_count(2)
    for name in ("Create key", "Invite", "Revoke", "Remove", "Cancel"):
        expect(invitee.get_by_role("button", name=name, exact=True)).to_have_count(0)
    expect(invitee.locator("select.role")).to_have_count(0)
    expect(invitee.get_by_role("button", name="Leave")).to_have_count(1)  # only themself
    shot(invitee, "viewer")

    # The owner makes them an admin; it holds.
    newcomer.get_by_label(f"Role of {email}").select_option("admin")
    expect(owner.get_by_role("status").filter(has_text=f"{email} is now admin.")).to_be_visible()
    owner.reload()
    expect(owner.get_by_test_id("member").filter(has_text=email)
           .get_by_label(f"Role of {email}")).to_have_value("admin")
    # The last owner cannot step down: the API's reason is shown, the role stays.
    me = owner.get_by_test_id("member").filter(has_text=person.email)
    me.get_by_label(f"Role of {person.email}").select_option("member")
    expect(owner.locator("#members-error")).to_have_text(
        "An organization needs at least one owner; make someone else owner first")
    expect(me.get_by_label(f"Role of {person.email}")).to_have_value("owner")
    shot(owner, "last-owner-refused")

    # Cancel an invitation (after confirming); its link stops working.
    other = f"other-{uuid.uuid4().hex[:8]}@example.org"
    owner.get_by_label("Email to invite").fill(other)
    owner.get_by_role("button", name="Invite").click()
    row = owner.get_by_test_id("invitation").filter(has_text=other)
    row.get_by_role("button", name="Cancel").click()
    owner.get_by_role("dialog").get_by_role("button", name="Cancel invitation").click()
    expect(owner.get_by_test_id("invitation").filter(has_text=other)).to_have_count(0)

    # Remove the newcomer: they are out at once.
    leaving = owner.get_by_test_id("member").filter(has_text=email)
    leaving.get_by_role("button", name="Remove").click()
    owner.get_by_role("dialog").get_by_role("button", name="Remove").click()
    expect(owner.get_by_test_id("member").filter(has_text=email)).to_have_count(0)
    invitee.reload()
    expect(invitee.get_by_role("heading",
                               name="You are not in an organization yet")).to_be_visible()
    shot(owner, "after")
    for context in (owner_context, invitee_context):
        context.close()
        assert context.visit.outside() == []


def test_settings_on_a_phone(browser, studio, person) -> None:  # type: ignore[no-untyped-def]
    _collection(studio, person, "Street photography in the old town of Ljubljana")
    httpx.post(f"{studio.url}/api/auth/organization/invite-member", headers=person.headers,
               json={"email": "a-rather-long-address-for-a-phone@example.org"}, timeout=30)
    context = open_context(browser, studio, PHONE)
    page = context.new_page()
    sign_in(page, person.email, PASSWORD, path="/settings")
    expect(page.get_by_role("button", name="Create key")).to_be_enabled()
    expect(page.get_by_test_id("invitation")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "phone")
    context.close()
    assert context.visit.outside() == []
