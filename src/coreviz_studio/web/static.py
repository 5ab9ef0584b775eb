"""The Studio's own CSS, scripts and images, served from the package (web/static)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles


def install(app: FastAPI) -> None:
    """Mount /static (after web/docs.py's /static/vendor, which is matched first)."""
    app.mount("/static", StaticFiles(packages=[("coreviz_studio.web", "static")]),
              name="studio-static")
