"""create_app(): the FastAPI application, its routers and the one error handler."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg.errors import DiskFull, ProgramLimitExceeded
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from coreviz_studio import __version__, collector
from coreviz_studio.accounts.routes import router as accounts_router
from coreviz_studio.ai.routes import router as ai_router
from coreviz_studio.auth.device import OAuthError
from coreviz_studio.auth.routes import router as auth_router
from coreviz_studio.blobs.routes import router as blobs_router
from coreviz_studio.blobs.secret import signing_secret
from coreviz_studio.bodies import BodyLimits
from coreviz_studio.config import Settings, get_settings
from coreviz_studio.contract import install as install_contract
from coreviz_studio.datasets.routes import router as datasets_router
from coreviz_studio.db.migrate import upgrade
from coreviz_studio.db.session import Database, open_database
from coreviz_studio.deps import check_declared
from coreviz_studio.diskspace import is_out_of_space
from coreviz_studio.duplicates.routes import router as duplicates_router
from coreviz_studio.errors import AppError, InsufficientStorage, Unavailable, phrase
from coreviz_studio.folders.routes import router as folders_router
from coreviz_studio.health.routes import router as health_router
from coreviz_studio.mcp_server.http import Endpoint, McpHttp
from coreviz_studio.media.routes import router as media_router
from coreviz_studio.pipeline import priority, worker
from coreviz_studio.pipeline.process import Pipeline
from coreviz_studio.pipeline.routes import router as processing_router
from coreviz_studio.search.routes import router as search_router
from coreviz_studio.storage.base import StorageUnavailable
from coreviz_studio.storage.factory import build_store
from coreviz_studio.storage.signing import Signer
from coreviz_studio.storage.urls import BlobUrls
from coreviz_studio.tags.routes import router as tags_router
from coreviz_studio.uploads.routes import router as uploads_router
from coreviz_studio.uploads.tus import remove_expired as remove_expired_uploads
from coreviz_studio.uploads.tus_routes import router as tus_router
from coreviz_studio.web import docs as api_docs
from coreviz_studio.web import static as studio_static
from coreviz_studio.web.routes import pages as studio_pages

log = logging.getLogger(__name__)
_PARAM_LOCATIONS = {"query", "path", "header", "cookie"}


def error_body(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": phrase(status), "message": message, **extra},
                        status_code=status)


def _describe(errors: list[Any]) -> str:
    parts = []
    for err in errors[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(OAuthError)
    async def _oauth_error(_: Request, exc: OAuthError) -> JSONResponse:
        # RFC 6749 5.2 / RFC 8628 3.5 shape, which better-auth's device client reads.
        return JSONResponse({"error": exc.error, "error_description": exc.message},
                            status_code=exc.status, headers={"Cache-Control": "no-store"})

    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        response = error_body(exc.status, exc.message, **({"code": exc.code} if exc.code else {}))
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_body(400, "Malformed JSON body")
        if any(e.get("loc") == ("body",) and e.get("type") == "model_attributes_type"
               for e in errors):
            return error_body(422, "The body must be a JSON object")
        # Bad query/path values are a bad request; a well-formed but invalid body is a 422.
        in_params = all(e.get("loc", ("body",))[0] in _PARAM_LOCATIONS for e in errors)
        return error_body(400 if in_params else 422, _describe(errors),
                          details=[{"loc": list(e.get("loc", ())), "msg": e.get("msg")}
                                   for e in errors[:20]])

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        response = error_body(exc.status_code, message)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(OperationalError)
    async def _db_down(_: Request, exc: OperationalError) -> JSONResponse:
        if isinstance(exc.orig, ProgramLimitExceeded):  # e.g. an index entry too large
            log.warning("value over a database limit: %s", exc.orig)
            return error_body(422, "A value is too large to store")
        if isinstance(exc.orig, DiskFull):
            log.error("the database's disk is full: %s", exc.orig)
            return await _app_error(_, InsufficientStorage(
                "The database's disk is full, so nothing could be saved; try again once an "
                "administrator has freed space on the server"))
        log.error("database unavailable: %s", exc.orig)
        response = error_body(503, "The database is unavailable; try again shortly")
        response.headers["Retry-After"] = "5"
        return response

    @app.exception_handler(OSError)
    async def _os_error(request: Request, exc: OSError) -> JSONResponse:
        if is_out_of_space(exc):  # a write anywhere (frames, a blob) found the disk full
            log.error("disk full: %s", exc)
            return await _app_error(request, InsufficientStorage())
        return await _unexpected(request, exc)

    @app.exception_handler(StorageUnavailable)
    async def _store_down(request: Request, exc: StorageUnavailable) -> JSONResponse:
        log.error("blob store unavailable: %s", exc)
        return await _app_error(request, Unavailable(
            f"The blob store is unavailable ({exc}); nothing was saved. Try again shortly.",
            code="storage_unavailable", headers={"Retry-After": "30"}))

    @app.exception_handler(DataError)
    async def _bad_value(_: Request, exc: DataError) -> JSONResponse:
        # A backstop: values are checked before they reach SQL; this catches what slips by.
        log.warning("value refused by the database: %s", exc.orig)
        return error_body(400, "A value in the request is not valid")

    @app.exception_handler(DBAPIError)
    async def _db_error(_: Request, exc: DBAPIError) -> JSONResponse:
        log.exception("database error", exc_info=exc)
        return error_body(500, "Internal error (database); it has been logged")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_body(500, "Internal error; it has been logged")


class JsonBodiesByDefault:
    """Read a body sent without a JSON content type (curl -d, some scripts) as JSON, so it gets a
    real validation error instead of "not an object". Multipart and JSON pass untouched."""

    _LENIENT = (b"", b"application/x-www-form-urlencoded", b"text/plain")

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
            ctype = dict(scope["headers"]).get(b"content-type", b"")
            if ctype.split(b";")[0].strip().lower() in self._LENIENT:
                headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
                scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}
        await self.app(scope, receive, send)


def start_workers(pipe: Pipeline, count: int) -> list[asyncio.Task[None]]:
    """`serve` processes uploads itself unless told otherwise (COREVIZ_WORKERS=0)."""
    return [asyncio.create_task(worker.run(pipe), name=f"worker-{i}") for i in range(count)]


async def stop_workers(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    # A job cut off here is picked up again by stalled-job recovery.
    if tasks:
        await asyncio.wait(tasks, timeout=10)


def create_app(settings: Settings | None = None, database: Database | None = None,
               close_database: bool = False, serving: bool = False) -> FastAPI:
    """The app. Without a `database` it opens (and migrates) one for its lifetime; with one, it
    closes it at shutdown only if `close_database` (uvicorn re-raises SIGTERM after shutdown, so
    the lifespan is the last place cleanup is sure to run). `serving`: a server process's own
    app (not a test's), whose start-up objects are frozen out of the collector (collector.py)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = database
        if db is None:
            db = open_database(settings)
            upgrade(db.engine)
        app.state.db = db
        if settings.private_blobs:  # the signing key lives in the database: known only now
            app.state.blob_urls = BlobUrls(settings.effective_public_url(), Signer(
                signing_secret(db), settings.signed_url_ttl_seconds))
        db.watch(settings.db_watchdog_seconds)
        if reaped := app.state.blobs.reap_pending():
            log.info("removed %d upload files left by stopped processes", reaped)
        # Expired resumable uploads: also refused (410) and removed whenever one is asked for,
        # so a database that is down now (the server starts anyway) only delays this.
        try:
            await asyncio.to_thread(remove_expired_uploads, db, app.state.blobs)
        except Exception as exc:  # logged; the next start (or a request for it) retries
            log.warning("expired resumable uploads not swept at start: %s", exc)
        workers = start_workers(Pipeline(db, app.state.blobs, settings), settings.workers)
        if serving:
            collector.settle()
        try:
            async with mcp_http.lifespan():
                yield
        finally:
            await stop_workers(workers)
            if database is None or close_database:
                db.close()

    app = FastAPI(
        title="CoreViz Studio (self-hosted)",
        version=__version__,
        description="A self-hosted server speaking the CoreViz Studio API.",
        lifespan=lifespan,
        docs_url=None, redoc_url=None,  # served offline instead: web/docs.py
    )
    app.state.settings = settings
    priority.configure(settings.queue_priorities)  # who goes first in the queue
    app.state.blobs = build_store(settings)
    app.state.blob_urls = BlobUrls(settings.effective_public_url())
    install_error_handlers(app)
    app.add_middleware(JsonBodiesByDefault)
    app.add_middleware(BodyLimits, settings=settings)  # outermost: before any body is parsed
    # Blobs first: routes are matched in order, and a grid asks for a hundred thumbnails.
    for router in (blobs_router, health_router, accounts_router, auth_router, datasets_router,
                   media_router, folders_router, tags_router, uploads_router, tus_router,
                   processing_router, ai_router, search_router, studio_pages):
        app.include_router(router)
    app.include_router(duplicates_router)  # GET /api/dataset/{id}/duplicates
    # MCP over streamable HTTP (docs/mcp.md): not an APIRoute, so the walls, the contract and
    # the client's route map leave it alone; it authenticates each request itself.
    mcp_http = McpHttp(app, [Path(p) for p in settings.mcp_upload_dirs.split(os.pathsep) if p])
    app.router.routes.append(Route("/mcp", Endpoint(mcp_http), methods=["GET", "POST", "DELETE"],
                                   include_in_schema=False))
    api_docs.install(app)
    studio_static.install(app)
    check_declared(app.routes)
    install_contract(app)
    return app
