from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from coreviz_studio import ratelimit
from tests.conftest import PASSWORD

GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture(autouse=True)
def _fresh_limits(database, settings) -> None:  # type: ignore[no-untyped-def]
    """These tests all call from the TestClient's one address: start each with no counts on
    it (each test's person is new, so its address-and-account counts are too)."""
    keys = [rule(settings).key("testclient").value for rule in (
        ratelimit.sign_in_by_source, ratelimit.device_codes_by_source,
        ratelimit.user_codes_by_source)]
    with database.engine.begin() as conn:
        conn.execute(text("DELETE FROM rate_limits WHERE key = ANY(:k)"), {"k": keys})


def _sign_in(client, email: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post("/api/auth/sign-in/email", json={"email": email, "password": password})


def test_sign_in_get_session_sign_out(client, person) -> None:  # type: ignore[no-untyped-def]
    r = _sign_in(client, person.email.upper())  # emails are case-insensitive
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"]["email"] == person.email and body["redirect"] is False
    token = body["token"]
    cookie = r.headers["set-cookie"]
    assert "better-auth.session_token=" in cookie and "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {token}"}
    me = client.get("/api/me", headers=bearer).json()
    assert me["userId"] == str(person.user_id) and me["organizationId"] == str(person.org_id)
    session = client.get("/api/auth/get-session", headers=bearer).json()
    assert session["user"]["id"] == str(person.user_id)
    assert session["session"]["activeOrganizationId"] == str(person.org_id)
    # The cookie alone works too (the web page's way).
    jar = {"cookie": f"better-auth.session_token={token}"}
    assert client.get("/api/me", headers=jar).status_code == 200
    assert client.post("/api/auth/sign-out", headers=bearer).json() == {"success": True}
    assert client.get("/api/me", headers=bearer).status_code == 401
    assert client.get("/api/auth/get-session", headers=bearer).json() is None
    assert client.get("/api/auth/get-session").json() is None


def test_wrong_password_and_unknown_user_look_the_same(client, person) -> None:  # type: ignore[no-untyped-def]
    wrong = _sign_in(client, person.email, "not the password")
    unknown = _sign_in(client, "nobody@example.org", "whatever1")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {
        "error": "Unauthorized", "message": "Invalid email or password",
        "code": "INVALID_EMAIL_OR_PASSWORD"}
    assert "set-cookie" not in wrong.headers


def test_password_guessing_is_rate_limited(client, person) -> None:  # type: ignore[no-untyped-def]
    for _ in range(5):  # COREVIZ_SIGN_IN_FREE_FAILURES
        assert _sign_in(client, person.email, "guess-guess").status_code == 401
    r = _sign_in(client, person.email)  # even the right password waits now, from this address
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


def test_cookie_writes_from_another_site_are_refused(client, person) -> None:  # type: ignore[no-untyped-def]
    token = _sign_in(client, person.email).json()["token"]
    client.cookies.clear()
    jar = {"cookie": f"better-auth.session_token={token}"}
    r = client.post(f"/api/organization/{person.org_id}/datasets",
                    headers={**jar, "origin": "https://evil.example"}, json={"name": "x"})
    assert r.status_code == 403
    r = client.post(f"/api/organization/{person.org_id}/datasets",
                    headers={**jar, "origin": "http://testserver"}, json={"name": "x"})
    assert r.status_code == 201


def _start(client):  # type: ignore[no-untyped-def]
    r = client.post("/api/auth/device/code", json={"client_id": "coreviz-cli",
                                                   "scope": "openid profile email"})
    assert r.status_code == 200, r.text
    return r.json()


def _poll(client, code: dict, client_id: str = "coreviz-cli"):  # type: ignore[no-untyped-def]
    return client.post("/api/auth/device/token", json={
        "grant_type": GRANT, "device_code": code["device_code"], "client_id": client_id})


def _age_poll(database, code, seconds: int = 60) -> None:  # type: ignore[no-untyped-def]
    """Pretend the device waited its interval since its last poll (this code's only)."""
    with database.engine.begin() as conn:
        done = conn.execute(text("UPDATE device_codes SET last_polled_at = last_polled_at - "
                                 "make_interval(secs => :s) WHERE user_code = :c"),
                            {"s": seconds, "c": code["user_code"].replace("-", "")})
        assert done.rowcount == 1


def test_device_flow_approve(client, person, database) -> None:  # type: ignore[no-untyped-def]
    code = _start(client)
    assert code["verification_uri"].endswith("/device") and code["interval"] == 5
    assert code["verification_uri_complete"].endswith(f"?user_code={code['user_code']}")
    assert code["expires_in"] == 1800 and len(code["user_code"]) == 9  # XXXX-XXXX

    r = _poll(client, code)
    assert r.status_code == 400 and r.json()["error"] == "authorization_pending"
    r = _poll(client, code)  # at once: too fast
    assert r.json()["error"] == "slow_down"
    assert "10 s" in r.json()["error_description"]  # the interval grew by 5 s

    page = client.get(code["verification_uri_complete"])
    # Not signed in: the page signs in first, then comes back with the code (tests/test_web_*)
    assert page.status_code == 200 and "Connect a device" in page.text
    assert f"/device?user_code={code['user_code']}" in page.text
    checked = client.get("/api/auth/device", params={"user_code": code["user_code"].lower()})
    assert checked.json()["status"] == "pending" and checked.json()["client_id"] == "coreviz-cli"

    token = _sign_in(client, person.email).json()["token"]
    client.cookies.clear()
    r = client.post("/api/auth/device/approve", headers={"Authorization": f"Bearer {token}"},
                    json={"userCode": code["user_code"]})
    assert r.status_code == 200 and r.json() == {"success": True}
    assert _poll(client, code, "someone-else").json() == {"error": "invalid_grant",
                                                          "error_description": "Client ID mismatch"}
    _age_poll(database, code)
    r = _poll(client, code)
    assert r.status_code == 200, r.text
    grant = r.json()
    assert grant["token_type"] == "Bearer" and grant["expires_in"] > 0
    assert grant["scope"] == "openid profile email"
    bearer = {"Authorization": f"Bearer {grant['access_token']}"}
    assert client.get("/api/me", headers=bearer).json()["userId"] == str(person.user_id)
    session = client.get("/api/auth/get-session", headers=bearer).json()
    assert session["user"]["email"] == person.email
    # The device code works once.
    _age_poll(database, code)
    assert _poll(client, code).json()["error"] == "invalid_grant"
    # And the user code cannot be approved again.
    r = client.post("/api/auth/device/approve", headers={"Authorization": f"Bearer {token}"},
                    json={"userCode": code["user_code"]})
    assert r.status_code == 400


def test_device_flow_deny_and_expiry(client, person, database) -> None:  # type: ignore[no-untyped-def]
    token = _sign_in(client, person.email).json()["token"]
    client.cookies.clear()
    auth = {"Authorization": f"Bearer {token}"}
    code = _start(client)
    assert client.post("/api/auth/device/deny", headers=auth,
                       json={"userCode": code["user_code"]}).status_code == 200
    assert _poll(client, code).json()["error"] == "access_denied"
    _age_poll(database, code)
    assert _poll(client, code).json()["error"] == "invalid_grant"

    late = _start(client)
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE device_codes SET expires_at = :t WHERE user_code = :c"),
                     {"t": datetime.now(UTC) - timedelta(seconds=1),
                      "c": late["user_code"].replace("-", "")})
    assert _poll(client, late).json()["error"] == "expired_token"
    r = client.post("/api/auth/device/approve", headers=auth, json={"userCode": late["user_code"]})
    assert r.status_code == 400 and r.json()["error"] == "expired_token"
    # Approving needs a signed-in user.
    fresh = _start(client)
    assert client.post("/api/auth/device/approve",
                       json={"userCode": fresh["user_code"]}).status_code == 401
    bad = client.post("/api/auth/device/token", json={
        "grant_type": "password", "device_code": fresh["device_code"], "client_id": "x"})
    assert bad.json()["error"] == "unsupported_grant_type"


def test_guessing_user_codes_is_rate_limited(client) -> None:  # type: ignore[no-untyped-def]
    real = _start(client)
    statuses = [client.get("/api/auth/device", params={"user_code": f"AAAA-AA{i:02d}"}).status_code
                for i in range(12)]
    assert statuses[:10] == [400] * 10 and statuses[10:] == [429, 429]
    # Even a right code waits once the address is blocked.
    r = client.get("/api/auth/device", params={"user_code": real["user_code"]})
    assert r.status_code == 429 and r.headers["retry-after"]


def test_sign_out_in_no_organization_and_with_a_key(client, person, database) -> None:  # type: ignore[no-untyped-def]
    from coreviz_studio.accounts import service as accounts

    email = f"lone-{person.email}"
    with database.sessions() as s:
        accounts.create_user(s, email, "Lone", password=PASSWORD)
        s.commit()
    token = _sign_in(client, email).json()["token"]
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/auth/organization/list-user-invitations", headers=bearer).json() == []
    assert client.post("/api/auth/sign-out", headers=bearer).json() == {"success": True}
    assert client.get("/api/auth/organization/list-user-invitations",
                      headers=bearer).status_code == 401
    assert client.post("/api/auth/sign-out", headers=person.headers).json() == {"success": True}
    assert client.get("/api/me", headers=person.headers).status_code == 200  # the key still works
    assert client.post("/api/auth/sign-out").status_code == 401
