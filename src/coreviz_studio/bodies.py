"""Request bodies: capped before anything parses them or authenticates their caller, and dropped
when they stall.

Starlette reads a JSON body whole into memory, so the cap (`max_json_bytes`) is enforced here, as
the bytes arrive: a Content-Length over it is answered 413 without reading a byte, a body of
unknown length as soon as it passes it. Uploads count their own bytes (`max_upload_bytes`, while
they stream to disk). Every body, uploads too, must keep arriving: a wait of more than
`body_read_timeout_seconds` for the next part ends the request with 408, and whatever was being
stored is removed by the code that was reading (it sees the error). An answer sent before the
body's end closes the connection rather than reading on.

FastAPI's own `max_body_size` is fixed per route when the module loads, answers plain text in
some paths and has no time limit, hence this one middleware.
"""

from __future__ import annotations

import asyncio
import math
from http import HTTPStatus

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import cookie_parser
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coreviz_studio.auth import service as auth_service
from coreviz_studio.config import Settings
from coreviz_studio.deps import SESSION_COOKIE
from coreviz_studio.errors import AppError
from coreviz_studio.uploads.routes import router as uploads_router
from coreviz_studio.uploads.tus_routes import PREFIX as TUS_PREFIX

# HTTPException, not AppError: raised inside the framework's body reading, which turns any other
# exception into a 400 "error parsing the body"; the app's handler renders it as our JSON.


class BodyTooLarge(HTTPException):
    def __init__(self, cap: int) -> None:
        super().__init__(413, f"The request body is larger than {cap:,} bytes "
                              "(COREVIZ_MAX_JSON_BYTES)")


class BodyStalled(HTTPException):
    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"The request body stalled: nothing arrived for {seconds:g} "
                              "seconds")


def _has_body(headers: Headers) -> bool:
    return "transfer-encoding" in headers or headers.get("content-length", "0") != "0"


class BodyLimits:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.cap = settings.max_json_bytes
        # A data URL of the largest image /api/ai/* may fetch, plus the JSON around it.
        self.ai_cap = 4 * math.ceil(settings.fetch_max_bytes / 3) + settings.max_json_bytes
        self.timeout = settings.body_read_timeout_seconds
        self.streamed = {getattr(route, "path", None) for route in uploads_router.routes}

    def cap_for(self, path: str) -> int | None:
        if path in self.streamed or path == TUS_PREFIX or path.startswith(TUS_PREFIX + "/"):
            return None  # streamed to disk, counted by the upload code
        return self.ai_cap if path.startswith("/api/ai/") else self.cap

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        cap = self.cap_for(scope["path"])
        declared = headers.get("content-length", "")
        if (cap is not None and cap > self.cap and _has_body(headers)
                and not (declared.isdigit() and int(declared) <= self.cap)
                and not await _authenticates(scope, headers)):
            cap = self.cap  # the room for an image is a signed-in caller's, never a stranger's
        if cap is not None and declared.isdigit() and int(declared) > cap:
            await _refuse(BodyTooLarge(cap), scope, receive, send)
            return
        ended = not _has_body(headers)
        started = False
        count = 0

        async def limited_receive() -> Message:
            nonlocal ended, count
            if ended:
                return await receive()  # after the body: only a disconnect is awaited
            try:
                async with asyncio.timeout(self.timeout):
                    message = await receive()
            except TimeoutError:
                raise BodyStalled(self.timeout) from None
            if message["type"] == "http.request":
                count += len(message.get("body", b""))
                if cap is not None and count > cap:
                    raise BodyTooLarge(cap)
                ended = not message.get("more_body", False)
            else:
                ended = True
            return message

        async def closing_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if not ended:  # answered before the body's end: do not read the rest
                    message = {**message,
                               "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, limited_receive, closing_send)
        except (BodyTooLarge, BodyStalled) as exc:  # in case no handler answered it
            if started:
                raise
            await _refuse(exc, scope, receive, send)


async def _authenticates(scope: Scope, headers: Headers) -> bool:
    """Whether the request's credential is good, checked before its body is read (FastAPI reads
    a body before the route's dependencies authenticate its caller)."""
    api_key = headers.get("x-api-key")
    authorization = headers.get("authorization")
    if not api_key and not authorization:
        cookie = cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE)
        authorization = f"Bearer {cookie}" if cookie else None
    if not api_key and not authorization:
        return False

    def check() -> bool:
        with scope["app"].state.db.sessions() as session:
            try:
                auth_service.authenticate(session, api_key, authorization)
            except AppError:
                return False
            session.commit()
            return True
    return await anyio.to_thread.run_sync(check)


async def _refuse(exc: HTTPException, scope: Scope, receive: Receive, send: Send) -> None:
    body = {"error": HTTPStatus(exc.status_code).phrase, "message": exc.detail}
    await JSONResponse(body, exc.status_code, {"connection": "close"})(scope, receive, send)
