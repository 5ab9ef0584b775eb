"""Rendering a Studio page: our Jinja2 templates (autoescaped), with the headers every page
carries: a Content-Security-Policy that lets the browser load nothing from another origin and
run no inline script, no caching (pages show private data), and no framing."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from coreviz_studio import __version__

POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
          "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
          "form-action 'self'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": POLICY, "Cache-Control": "no-store",
           "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
           "X-Content-Type-Options": "nosniff"}

_env = Environment(loader=PackageLoader("coreviz_studio.web", "templates"),
                   autoescape=select_autoescape(default=True), trim_blocks=True,
                   lstrip_blocks=True)
# Asset URLs carry the version, so a new release is never served from a stale cache.
_env.globals["asset_version"] = __version__


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _env.get_template(template).render(request=request, **context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


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
