"""The Studio's pages over plain HTTP: who gets a page and who a redirect, the headers that keep
a page to its origin, refusals of cross-site changes, and no 500 on hostile input."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD

COOKIE = "better-auth.session_token"


def _as(token: str) -> dict[str, str]:
    return {"cookie": f"{COOKIE}={token}"}


@pytest.fixture
def signed_in(client, person, make_session_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return _as(make_session_token(person))


@pytest.mark.parametrize("path", ["/", "/accept-invitation/5f369673625c409c81abf398dc7afc51",
                                  "/m/5f369673625c409c81abf398dc7afc51?frame=x",
                                  "/c/5f369673625c409c81abf398dc7afc51?path=x&sort=name",
                                  "/c/5f369673625c409c81abf398dc7afc51/trash"])
def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in(client, path) -> None:  # type: ignore[no-untyped-def]
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/sign-in?next=%2F")
    page = client.get(r.headers["location"])
    assert page.status_code == 200 and 'id="sign-in"' in page.text


def test_pages_carry_a_policy_that_keeps_them_to_their_origin(client, signed_in) -> None:  # type: ignore[no-untyped-def]
    for path in ("/sign-in", "/device"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        policy = r.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self';" in policy
        assert "unsafe-inline" not in policy and r.headers["cache-control"] == "no-store"
    home = client.get("/", headers=signed_in)
    assert home.status_code == 200 and "Collections" in home.text


def test_a_signed_in_visitor_skips_the_sign_in_page(client, signed_in) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/sign-in?next=/device", headers=signed_in, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/device"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example",
                                    "javascript:alert(1)", "/ok\r\nSet-Cookie: x=1", ""])
def test_next_never_leads_off_the_server(client, signed_in, target) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/sign-in", params={"next": target}, headers=signed_in,
                   follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    page = client.get("/sign-in", params={"next": target})
    assert page.status_code == 200 and 'data-next="/"' in page.text


def test_sign_in_from_another_site_is_refused(client, person) -> None:  # type: ignore[no-untyped-def]
    body = {"email": person.email, "password": PASSWORD}
    r = client.post("/api/auth/sign-in/email", json=body,
                    headers={"origin": "https://evil.example"})
    assert r.status_code == 403 and "set-cookie" not in r.headers
    # a form of another site, text/plain to look like JSON: the same refusal
    r = client.post("/api/auth/sign-in/email", content=b'{"email": "%s", "password": "%s"}'
                    % (person.email.encode(), PASSWORD.encode()),
                    headers={"origin": "null", "content-type": "text/plain"})
    assert r.status_code == 403
    same = client.post("/api/auth/sign-in/email", json=body,
                       headers={"origin": "http://testserver"})
    assert same.status_code == 200
    assert client.post("/api/auth/sign-in/email", json=body).status_code == 200  # CLIs, SDKs


def test_cookie_changes_from_another_site_are_refused(client, person, signed_in) -> None:  # type: ignore[no-untyped-def]
    evil = {**signed_in, "origin": "https://evil.example"}
    r = client.post(f"/api/organization/{person.org_id}/datasets", json={"name": "x"},
                    headers=evil)
    assert r.status_code == 403
    assert client.post("/api/auth/sign-out", headers=evil).status_code == 403
    assert client.get("/", headers=signed_in).status_code == 200  # still signed in


@pytest.mark.parametrize("ident", ["x", "../../etc/passwd", "%00", "1" * 5000, "' OR 1=1--",
                                   "5f369673-625c-409c-81ab-f398dc7afc51"])
def test_hostile_invitation_ids_are_a_plain_not_found(client, signed_in, ident) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"/accept-invitation/{ident}", headers=signed_in)
    assert r.status_code in (404, 400), r.text
    if r.status_code == 404 and r.headers["content-type"].startswith("text/html"):
        assert "Invitation not found" in r.text


@pytest.mark.parametrize("code", ["<script>alert(1)</script>", "\x00", "A" * 10_000, "ABCD-EFGH"])
def test_the_device_page_escapes_the_code(client, code) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/device", params={"user_code": code})
    assert r.status_code == 200 and "<script>alert" not in r.text


def test_api_paths_still_answer_json(client, signed_in) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/nothing-here", headers=signed_in)
    assert r.status_code == 404 and r.json()["error"] == "Not Found"
    assert client.get("/static/nothing.css").json()["error"] == "Not Found"
    css = client.get("/static/studio.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    js = client.get("/static/js/api.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]


def test_an_api_key_is_not_a_studio_visitor(client, person) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/", headers=person.headers, follow_redirects=False)
    assert r.status_code == 303


def test_the_media_view_answers_404_for_anything_not_an_item_of_theirs(client, signed_in) -> None:  # type: ignore[no-untyped-def]
    for target in ("5f369673625c409c81abf398dc7afc51", "x" * 5000, "%00", "%3Cscript%3E",
                   "5f369673-625c-409c-81ab-f398dc7afc51"):
        r = client.get(f"/m/{target}", headers=signed_in, follow_redirects=False)
        assert r.status_code == 404, (target[:20], r.status_code)
        assert 'data-testid="media-not-found"' in r.text
        assert "unsafe-inline" not in r.headers["content-security-policy"]


def test_a_folder_opens_in_the_library_view(client, person, signed_in) -> None:  # type: ignore[no-untyped-def]
    from tests.library import Library

    lib = Library(client, person)
    folder = lib.folder("Winter")
    r = client.get(f"/m/{folder['id']}", headers=signed_in, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/c/{lib.id}?path={folder['path']}"


@pytest.mark.parametrize("query", [
    {"path": "<script>alert(1)</script>"}, {"path": "\x00"}, {"path": "a" * 10_000},
    {"path": ".".join(["5f369673625c409c81abf398dc7afc51"] * 40)},
    {"sort": "<script>alert(1)</script>", "dir": "\x00", "type": "x" * 10_000,
     "from": "\"><b>", "tags": "<i>,\x01"}])
def test_hostile_library_input_is_a_clear_answer(client, person, signed_in, query) -> None:  # type: ignore[no-untyped-def]
    made = client.post(f"/api/organization/{person.org_id}/datasets", headers=person.headers,
                       json={"name": "Hostile"})
    r = client.get(f"/c/{made.json()['id']}", params=query, headers=signed_in)
    assert r.status_code in (200, 400, 404), r.text
    assert "<script>alert" not in r.text and "<b>" not in r.text and "\x00" not in r.text
    for ident in ("<script>", "%00", "5f369673625c409c81abf398dc7afc5"):
        r = client.get(f"/c/{ident}/trash", headers=signed_in)
        assert r.status_code in (400, 404) and "Not found" in r.text


def test_a_people_page_link_shows_one_clusters_items_in_the_library(client, person,  # type: ignore[no-untyped-def]
                                                                    signed_in) -> None:
    """/people/{id} links a collection as /c/{id}?cluster=...: the grid's browse query carries
    clusterId (and the filter form keeps it); without it, nothing of the kind."""
    made = client.post(f"/api/organization/{person.org_id}/datasets", headers=person.headers,
                       json={"name": "People"}).json()
    cluster = "5f369673625c409c81abf398dc7afc51"
    r = client.get(f"/c/{made['id']}", params={"cluster": cluster}, headers=signed_in)
    assert r.status_code == 200
    assert f"clusterId={cluster}" in r.text and 'data-testid="cluster-filter"' in r.text
    plain = client.get(f"/c/{made['id']}", headers=signed_in)
    assert "clusterId" not in plain.text and "cluster-filter" not in plain.text
