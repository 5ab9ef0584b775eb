"""The API explorer (/docs, Swagger UI) and reference (/redoc, ReDoc) with their assets served
from the `fastapi-offline` wheel, so they work with no internet: FastAPI's own pages load them
(and Google Fonts, and a favicon) from CDNs."""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

ASSETS = "/static/vendor/api-docs"
# Swagger UI may check the document with swagger.io's online validator: never from here.
_SWAGGER_PARAMETERS = {"validatorUrl": None, "deepLinking": True, "persistAuthorization": False}
REDOC_JS = "/static/vendor/redoc.js"
# The browser itself refuses anything from another origin (the browser tests prove that none
# is even asked for).
_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
           "font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
           "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
_SWAGGER_POLICY = _POLICY + "; script-src 'self' 'unsafe-inline'"  # its page starts it inline
_REDOC_POLICY = _POLICY + "; script-src 'self'"
# ReDoc's sidebar shows Redocly's logo from their CDN; its bundle is served with that one URL
# pointing at a local image instead, and the link (to redocly.com) is hidden.
_CDN_LOGO = b'"https://cdn.redoc.ly/redoc/logo-mini.svg"'
_NO_ATTRIBUTION = '<style>a[href*="redocly.com"] { display: none !important; }</style></head>'


@cache
def _redoc_bundle() -> bytes:
    bundle = resources.files("fastapi_offline").joinpath("static/redoc.standalone.js")
    return bundle.read_bytes().replace(_CDN_LOGO, f'"{ASSETS}/favicon.png"'.encode())


def _redoc_js(_: Request) -> Response:
    return Response(_redoc_bundle(), media_type="text/javascript",
                    headers={"Cache-Control": "public, max-age=3600"})


def _swagger(request: Request) -> HTMLResponse:
    app = request.app
    page = get_swagger_ui_html(
        openapi_url=app.openapi_url, title=f"{app.title} · API",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon.png",
        swagger_ui_parameters=_SWAGGER_PARAMETERS)
    page.headers["Content-Security-Policy"] = _SWAGGER_POLICY
    return page


def _redoc(request: Request) -> HTMLResponse:
    app = request.app
    page = get_redoc_html(openapi_url=app.openapi_url, title=f"{app.title} · API reference",
                          redoc_js_url=REDOC_JS,
                          redoc_favicon_url=f"{ASSETS}/favicon.png", with_google_fonts=False)
    html = bytes(page.body).decode().replace("</head>", _NO_ATTRIBUTION, 1)
    return HTMLResponse(html, headers={"Content-Security-Policy": _REDOC_POLICY})


def install(app: FastAPI) -> None:
    """Serve /docs and /redoc offline (create FastAPI with docs_url=None, redoc_url=None).
    Plain routes, as FastAPI's own: not part of the API (nor of its route walls)."""
    app.add_route(REDOC_JS, _redoc_js, include_in_schema=False)
    app.mount(ASSETS, StaticFiles(packages=[("fastapi_offline", "static")]), name="api-docs")
    app.add_route("/docs", _swagger, include_in_schema=False)
    app.add_route("/redoc", _redoc, include_in_schema=False)
