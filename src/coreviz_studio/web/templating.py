"""Rendering a Studio page: our Jinja2 templates (autoescaped), with the headers every page
carries: a Content-Security-Policy that lets the browser load nothing from another origin and
run no inline script, no caching (pages show private data), and no framing."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from coreviz_studio import __version__
from coreviz_studio.config import Settings
from coreviz_studio.storage.base import BlobStore

POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
          "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
          "form-action 'self'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": POLICY, "Cache-Control": "no-store",
           "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
           "X-Content-Type-Options": "nosniff"}
_PROBE_KEY = "00/" + "0" * 32 + ".jpg"  # any key: only the presigned URL's origin is used


def page_policy(settings: Settings, store: BlobStore) -> str:
    """This origin only; plus the bucket's where blob GETs redirect there (S3 with
    COREVIZ_BLOB_REDIRECT), since the originals and frames a page shows then come from it."""
    if not settings.blob_redirect:
        return POLICY
    url = store.presigned_url(_PROBE_KEY, 60)
    if url is None:
        return POLICY
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    return POLICY.replace("img-src 'self' data:;", f"img-src 'self' data: {origin}; "
                          f"media-src 'self' {origin};")


def _headers(request: Request) -> dict[str, str]:
    state = request.app.state
    if getattr(state, "page_policy", None) is None:  # once per app: the bucket never moves
        state.page_policy = page_policy(state.settings, state.blobs)
    return {**HEADERS, "Content-Security-Policy": state.page_policy}

_env = Environment(loader=PackageLoader("coreviz_studio.web", "templates"),
                   autoescape=select_autoescape(default=True), trim_blocks=True,
                   lstrip_blocks=True)
# Asset URLs carry the version, so a new release is never served from a stale cache.
_env.globals["asset_version"] = __version__


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _env.get_template(template).render(request=request, **context)
    return HTMLResponse(html, status_code=status, headers=_headers(request))


def local_path(target: str | None, default: str = "/") -> str:
    """`target` if it is a path on this server, else `default`: a `next` parameter must not
    send a person who just signed in to another site (open redirect)."""
    if (not target or not target.startswith("/") or target.startswith("//")
            or "\\" in target or any(ord(c) < 32 for c in target)):
        return default
    return target


def to_sign_in(request: Request) -> RedirectResponse:
    """Send a visitor who is not signed in to the sign-in page, and back here afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/sign-in?next={quote(here, safe='')}", status_code=303,
                            headers={"Cache-Control": "no-store"})
