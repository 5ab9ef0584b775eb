"""Joining by invitation and approving a device login, in a real browser: the invitation
link's page (accept, an expired one, someone else's), and the device page that signs in and
approves the code a CLI shows."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import expect

from coreviz_studio.accounts import service as accounts
from coreviz_studio.db.tables import Invitation
from tests.browser import shot, sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("fresh_sign_in_limits")
GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def _newcomer(database) -> str:  # type: ignore[no-untyped-def]
    """A person with an account and a password, in no organization yet."""
    email = f"new-{uuid.uuid4().hex[:10]}@example.org"
    with database.sessions() as s:
        accounts.create_user(s, email, "Newcomer", password=PASSWORD)
        s.commit()
    return email


def _invite(studio, admin, email: str, role: str = "member") -> str:  # type: ignore[no-untyped-def]
    r = httpx.post(f"{studio.url}/api/auth/organization/invite-member", headers=admin.headers,
                   json={"email": email, "role": role}, timeout=30)
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def test_accept_an_invitation(studio_page, studio, person, database) -> None:  # type: ignore[no-untyped-def]
    email = _newcomer(database)
    invitation = _invite(studio, person, email)
    page = studio_page
    page.goto(f"/accept-invitation/{invitation}")  # the link, opened before signing in
    expect(page).to_have_url(re.compile(r"/sign-in\?next="))
    sign_in(page, email, PASSWORD, path=page.url)
    expect(page).to_have_url(re.compile(f"/accept-invitation/{invitation}$"))
    expect(page.get_by_role("heading", name=re.compile("^Join "))).to_be_visible()
    expect(page.get_by_text(f"{person.email} invited {email}")).to_be_visible()
    expect(page.get_by_role("button", name="Accept and join")).to_be_enabled()
    shot(page, "invited")
    page.get_by_role("button", name="Accept and join").click()
    expect(page.get_by_role("heading", name="Collections")).to_be_visible()
    expect(page.get_by_test_id("org-name")).to_be_visible()
    shot(page, "joined")
    page.goto(f"/accept-invitation/{invitation}")  # the link again: used
    expect(page.get_by_test_id("invitation-closed")).to_have_text(
        "This invitation has already been accepted.")


def test_an_expired_invitation_says_so(studio_page, studio, person, database) -> None:  # type: ignore[no-untyped-def]
    email = _newcomer(database)
    invitation = _invite(studio, person, email)
    with database.sessions() as s:
        s.get(Invitation, uuid.UUID(invitation)).expires_at = datetime.now(UTC) - timedelta(1)
        s.commit()
    page = studio_page
    sign_in(page, email, PASSWORD)
    expect(page.get_by_role("heading", name="You are not in an organization yet")).to_be_visible()
    shot(page, "no-organization")
    page.goto(f"/accept-invitation/{invitation}")
    expect(page.get_by_test_id("invitation-expired")).to_have_text(
        "This invitation has expired; ask the organization for a new one.")
    expect(page.get_by_role("button", name="Accept and join")).to_have_count(0)
    shot(page, "expired")
    page.get_by_label("Account menu").click()  # in no organization, yet able to sign out
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile("/sign-in$"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/sign-in\?next="))


def test_someone_elses_invitation_is_not_found(studio_page, studio, person, database) -> None:  # type: ignore[no-untyped-def]
    invitation = _invite(studio, person, f"other-{uuid.uuid4().hex[:8]}@example.org")
    page = studio_page
    sign_in(page, _newcomer(database), PASSWORD)
    expect(page.get_by_role("heading", name="You are not in an organization yet")).to_be_visible()
    response = page.goto(f"/accept-invitation/{invitation}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Invitation not found")).to_be_visible()
    shot(page, "not-theirs")


def test_approve_a_device_login(studio_page, studio, person) -> None:  # type: ignore[no-untyped-def]
    cli = httpx.Client(base_url=studio.url, timeout=30)
    code = cli.post("/api/auth/device/code", json={"client_id": "coreviz-cli"}).json()
    page = studio_page
    page.goto(code["verification_uri_complete"])
    expect(page.get_by_role("heading", name="Connect a device")).to_be_visible()
    shot(page, "sign-in-first")
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Code")).to_have_value(code["user_code"])
    expect(page.get_by_role("button", name="Approve")).to_be_enabled()
    shot(page, "approve")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status").filter(has_text="Approved")).to_have_text(
        "Approved. You can go back to your device.")
    shot(page, "approved")
    token = cli.post("/api/auth/device/token", json={
        "grant_type": GRANT, "device_code": code["device_code"], "client_id": "coreviz-cli"})
    assert token.status_code == 200, token.text
    me = cli.get("/api/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert me.json()["email"] == person.email


def test_a_wrong_device_code_is_explained(studio_page, person) -> None:  # type: ignore[no-untyped-def]
    page = studio_page
    sign_in(page, person.email, PASSWORD, path="/device")
    page.get_by_label("Code").fill("ZZZZ-ZZZZ")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("alert")).to_have_text(re.compile(r"\S"))
    shot(page, "wrong-code")


def test_decline_an_invitation(studio_page, studio, person, database) -> None:  # type: ignore[no-untyped-def]
    email = _newcomer(database)
    invitation = _invite(studio, person, email, role="viewer")
    page = studio_page
    sign_in(page, email, PASSWORD)
    page.get_by_role("link", name=re.compile("^org-")).click()  # listed at / (no organization)
    expect(page.get_by_text("as viewer")).to_be_visible()
    page.get_by_role("button", name="Decline").click()
    expect(page.get_by_test_id("invitation-closed")).to_have_text(
        "This invitation has been declined.")
    shot(page, "declined")
    with database.sessions() as s:
        assert s.get(Invitation, uuid.UUID(invitation)).status == "rejected"
