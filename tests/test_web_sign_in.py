"""The Studio in a real browser: signing in (wrong, right, rate-limited), signing out,
switching organization, and the shell on a phone-sized screen. No request leaves the origin
(tests/browser.py checks every page)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from coreviz_studio.accounts import members
from tests.browser import PHONE, open_context, shot, sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("fresh_sign_in_limits")


def test_wrong_password_then_right(studio_page, person) -> None:  # type: ignore[no-untyped-def]
    page = studio_page
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2F$"))
    sign_in(page, person.email, "not the password", path=page.url, refused=True)
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    expect(page).to_have_url(re.compile("/sign-in"))
    shot(page, "wrong-password")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Collections")).to_be_visible()
    expect(page.get_by_test_id("org-name")).to_be_visible()
    shot(page, "signed-in")
    cookie = next(c for c in page.context.cookies() if c["name"] == "better-auth.session_token")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"


def test_too_many_wrong_passwords_say_when_to_try_again(studio_page, person) -> None:  # type: ignore[no-untyped-def]
    page = studio_page
    page.goto("/sign-in")
    page.get_by_label("Email").fill(person.email)
    alert = page.get_by_role("alert")
    for attempt in range(1, 7):
        page.get_by_label("Password").fill(f"wrong {attempt}")
        page.get_by_role("button", name="Sign in").click()
        if attempt < 6:  # five free failures (COREVIZ_SIGN_IN_FREE_FAILURES)
            expect(alert).to_have_text("Wrong email or password.")
            expect(page.get_by_role("button", name="Sign in")).to_be_enabled()
    expect(alert).to_have_text(re.compile(r"Too many attempts\. Try again in \d+ seconds\."))
    shot(page, "rate-limited")


def test_sign_out(studio_page, person) -> None:  # type: ignore[no-untyped-def]
    page = studio_page
    sign_in(page, person.email, PASSWORD)
    expect(page.get_by_role("heading", name="Collections")).to_be_visible()
    page.get_by_label("Account menu").click()
    shot(page, "menu")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile("/sign-in$"))
    page.goto("/")  # the session is revoked, not only the cookie gone
    expect(page).to_have_url(re.compile("/sign-in"))
    assert not [c for c in page.context.cookies() if c["name"] == "better-auth.session_token"]


def test_switch_organization(studio_page, person, make_member, database) -> None:  # type: ignore[no-untyped-def]
    other = make_member(org=f"Second org {person.email[:8]}")
    with database.sessions() as s:
        members.add_member(s, other.org_id, person.email, "viewer")
        s.commit()
    page = studio_page
    sign_in(page, person.email, PASSWORD)
    switch = page.get_by_label("Organization")
    expect(switch).to_have_value(str(person.org_id))
    expect(page.get_by_role("button", name="Create")).to_be_visible()  # an owner here
    shot(page, "first-org")
    switch.select_option(str(other.org_id))
    expect(page.get_by_label("Organization")).to_have_value(str(other.org_id))
    expect(page.get_by_role("heading", name="Collections")).to_be_visible()
    expect(page.get_by_role("button", name="Create")).to_have_count(0)  # a viewer there
    page.get_by_label("Account menu").click()
    expect(page.get_by_text("(viewer of Second org")).to_be_visible()
    shot(page, "second-org")
    page.reload()  # the choice is the session's, not the page's
    expect(page.get_by_label("Organization")).to_have_value(str(other.org_id))


def test_the_shell_fits_a_phone(browser, studio, person) -> None:  # type: ignore[no-untyped-def]
    context = open_context(browser, studio, PHONE)
    page = context.new_page()
    page.goto("/sign-in")
    shot(page, "phone-sign-in")
    sign_in(page, person.email, PASSWORD, path="/sign-in")
    expect(page.get_by_role("heading", name="Collections")).to_be_visible()
    fits = "document.documentElement.scrollWidth <= window.innerWidth"
    assert page.evaluate(fits)
    page.get_by_label("Account menu").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_in_viewport()
    assert page.evaluate(fits)
    shot(page, "phone-menu")
    context.close()
    assert context.visit.outside() == []
