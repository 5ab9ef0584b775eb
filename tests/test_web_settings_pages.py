"""The settings, people and things pages over plain HTTP: who gets them, their headers, and
hostile input (ids, page numbers, names) answered with a page, never a 500 or markup."""

from __future__ import annotations

import pytest

# Fixed ids: pytest-xdist workers must collect the same test names.
PAGES = ["/settings", "/people", "/things", "/people/3a0bceae-34ad-42e0-a49a-8589c59133d6",
         "/things/6561461a-082e-4a23-b6f8-76b9e39fa37b"]


@pytest.fixture
def signed_in(person, make_session_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Cookie": f"better-auth.session_token={make_session_token(person)}"}


@pytest.mark.parametrize("path", PAGES)
def test_not_signed_in_is_sent_to_sign_in(client, path) -> None:  # type: ignore[no-untyped-def]
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/sign-in?next=%2F")


@pytest.mark.parametrize("path", PAGES)
def test_an_api_key_is_no_visitor_of_these_pages(client, person, path) -> None:  # type: ignore[no-untyped-def]
    r = client.get(path, headers=person.headers, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/sign-in")


def test_the_pages_keep_to_their_origin(client, signed_in) -> None:  # type: ignore[no-untyped-def]
    for path in ("/settings", "/people", "/things"):
        r = client.get(path, headers=signed_in)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
        assert "unsafe-inline" not in r.headers["content-security-policy"]
        assert r.headers["cache-control"] == "no-store"
        assert 'href="/settings"' in r.text and 'href="/people"' in r.text  # menu and nav


@pytest.mark.parametrize("ident", ["x", "../../etc/passwd", "%00", "1" * 5000, "' OR 1=1--",
                                   "5f369673-625c-409c-81ab-f398dc7afc51"])
def test_hostile_cluster_ids_are_a_plain_not_found(client, signed_in, ident) -> None:  # type: ignore[no-untyped-def]
    for kind in ("people", "things"):
        r = client.get(f"/{kind}/{ident}", headers=signed_in)
        assert r.status_code in (404, 400), r.text
        if r.headers["content-type"].startswith("text/html") and r.status_code == 404:
            assert "no such person or thing" in r.text


@pytest.mark.parametrize("offset", ["-1", "abc", "1e9", "9" * 40, "", "0x10"])
def test_odd_page_numbers_are_a_page(client, signed_in, offset) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/people", headers=signed_in, params={"offset": offset})
    assert r.status_code == 200 and "No people yet" in r.text


def test_names_are_text_never_markup(client, person, signed_in) -> None:  # type: ignore[no-untyped-def]
    name = "<img src=x onerror=alert(1)>"
    r = client.post("/api/auth/api-key/create", headers=person.headers, json={"name": name})
    assert r.status_code == 200, r.text
    page = client.get("/settings", headers=signed_in).text
    assert name not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert r.json()["key"] not in page  # a key's secret is never on the page
