"""The search page (and the library view's uploader and search box) over plain HTTP: who is
sent to sign in, and what hostile parameters get (a page that says so, escaped; never a 500)."""

from __future__ import annotations

import pytest

from tests.test_web_pages import _as


@pytest.fixture
def signed_in(client, person, make_session_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return _as(make_session_token(person))


@pytest.mark.parametrize("path", ["/search?q=cat", "/c/5f369673625c409c81abf398dc7afc51"])
def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in(client, path) -> None:  # type: ignore[no-untyped-def]
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/sign-in?next=%2F")


def test_the_search_page_and_its_box(client, signed_in, person) -> None:  # type: ignore[no-untyped-def]
    made = client.post(f"/api/organization/{person.org_id}/datasets", headers=person.headers,
                       json={"name": "Holidays"})
    dataset_id = made.json()["id"]
    home = client.get("/", headers=signed_in)
    assert 'action="/search"' in home.text and 'data-upload-dataset="' + dataset_id in home.text
    r = client.get("/search", params={"q": "cat", "dataset": dataset_id}, headers=signed_in)
    assert r.status_code == 200 and r.headers["content-security-policy"].startswith("default-src")
    assert f'data-dataset="{dataset_id}"' in r.text and 'data-q="cat"' in r.text
    page = client.get(f"/c/{dataset_id}", headers=signed_in)
    assert page.status_code == 200 and "Holidays" in page.text and 'webkitdirectory' in page.text


@pytest.mark.parametrize("value", ["<script>alert(1)</script>", "../../etc", "%00", "1" * 5000,
                                   "' OR 1=1--", "5f369673-625c-409c-81ab-f398dc7afc51"])
def test_hostile_parameters_are_harmless(client, signed_in, value) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/search", params={"q": value, "dataset": value, "similar": value,
                                      "model": value, "label": value}, headers=signed_in)
    assert r.status_code == 404 and "That collection was not found" in r.text
    assert "<script>alert" not in r.text
    assert 'data-model=""' in r.text  # only the API's model names pass
    page = client.get(f"/c/{value}", headers=signed_in)
    assert page.status_code in (404, 400) and "<script>alert" not in page.text
