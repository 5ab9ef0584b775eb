"""/docs and /redoc work with no internet: their assets come from our server (a PyPI package),
and a real browser renders the operations without asking any other origin."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser import shot

_OUTSIDE = re.compile(r"""(?:src|href)=["']?(?:https?:)?//""")


def test_docs_pages_name_no_other_origin(client) -> None:  # type: ignore[no-untyped-def]
    for path in ("/docs", "/redoc"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert not _OUTSIDE.search(r.text), r.text
        assert "cdn" not in r.text and "fonts.googleapis" not in r.text
        for asset in re.findall(r"""(?:src|href)=["']?(/static/[^"' >]+)""", r.text):
            assert client.get(asset).status_code == 200, asset
    assert client.get("/static/vendor/api-docs/nothing.js").json()["error"] == "Not Found"


def test_docs_render_the_operations_offline(studio_page) -> None:  # type: ignore[no-untyped-def]
    page = studio_page
    page.goto("/docs")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/api/me").first).to_be_visible()
    assert page.locator(".opblock").count() > 40
    shot(page, "swagger", full_page=False)


def test_redoc_renders_offline(studio_page) -> None:  # type: ignore[no-untyped-def]
    page = studio_page
    page.goto("/redoc")
    expect(page.get_by_role("heading", name=re.compile("CoreViz Studio")).first).to_be_visible()
    expect(page.get_by_text("/api/me", exact=True).first).to_be_attached()
    shot(page, "redoc", full_page=False)


def test_the_redoc_bundle_points_at_no_cdn(client) -> None:  # type: ignore[no-untyped-def]
    bundle = client.get("/static/vendor/redoc.js")
    assert bundle.status_code == 200 and "cdn.redoc.ly" not in bundle.text
