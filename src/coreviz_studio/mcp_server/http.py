"""Streamable HTTP at /mcp of the API server, with the API's own credentials.

Decision (docs/mcp.md): the tools call the app in-process, through the typed client with an
httpx ASGITransport on the same FastAPI app, carrying the caller's own `x-api-key` or
`Authorization: Bearer` header. So a tool can do exactly what that caller could do over the
API (the same walls, scopes, rate limits keyed on the caller's address, error messages), with
no network hop, no loopback address to configure, and no database access of its own.

A request without a credential, or with one the API refuses (asked of /api/me, in-process),
gets the API's 401 before the MCP layer sees it. Sessions are stateless (each POST stands
alone; answers are JSON), so any worker of a scaled-out deployment can serve any request."""

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from mcp.server.mcpserver import Context
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from coreviz_studio.client import AsyncClient, CoreVizError, Retry
from coreviz_studio.client.errors import APIError
from coreviz_studio.mcp_server.tools import build_server

INTERNAL_URL = "http://coreviz-studio.internal"  # never resolved: the transport is the app
NO_RETRY = Retry(attempts=1)  # the caller's own MCP client decides whether to retry


def credential_of(headers: Any) -> tuple[str | None, str | None]:
    """(api_key, bearer token) from request headers, as the API reads them."""
    key = headers.get("x-api-key") or None
    auth = headers.get("authorization") or ""
    token = auth[7:].strip() or None if auth[:7].lower() == "bearer " else None
    return key, token


def _client(app: ASGIApp, headers: Any, peer: tuple[str, int] | None) -> AsyncClient:
    key, token = credential_of(headers)
    transport = httpx.ASGITransport(app=app, client=peer or ("127.0.0.1", 0))
    return AsyncClient(INTERNAL_URL, api_key=key, token=token, transport=transport,
                       retry=NO_RETRY, timeout=300.0)


class McpHttp:
    """The /mcp endpoint of `app`: `asgi` to route there, `lifespan()` to run in the app's."""

    def __init__(self, app: ASGIApp, upload_dirs: list[Path]) -> None:
        self.app = app
        self.server = build_server(self._connect, upload_dirs=upload_dirs)
        self._new_session_manager()

    def _new_session_manager(self) -> None:
        # host other than localhost: the SDK's DNS-rebinding check is off. It guards servers
        # that trust the network; this one trusts only a key or token sent in a header, which
        # a page in a browser cannot make another origin send.
        self.server.streamable_http_app(streamable_http_path="/mcp", stateless_http=True,
                                        json_response=True, host="0.0.0.0")  # noqa: S104

    def lifespan(self) -> AbstractAsyncContextManager[None]:
        """The session manager's task group, for the app's lifespan. A manager runs once:
        each lifespan (tests start one app several times) gets a new one."""
        self._new_session_manager()
        return self.server.session_manager.run()

    @asynccontextmanager
    async def _connect(self, ctx: Context) -> AsyncIterator[AsyncClient]:
        request = ctx.request_context.request
        headers = getattr(request, "headers", None) or {}
        client_addr = getattr(request, "client", None)
        peer = (client_addr.host, client_addr.port) if client_addr else None
        async with _client(self.app, headers, peer) as c:
            yield c

    async def asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = Headers(scope=scope)
        key, token = credential_of(headers)
        if key is None and token is None:
            await _refuse(401, "Send an API key (x-api-key) or a bearer token, as for the API")(
                scope, receive, send)
            return
        client_addr = scope.get("client")
        try:
            async with _client(self.app, headers, tuple(client_addr) if client_addr
                               else None) as c:
                await c.me()
        except APIError as exc:
            await _refuse(exc.status, exc.message)(scope, receive, send)
            return
        except CoreVizError as exc:
            await _refuse(503, str(exc))(scope, receive, send)
            return
        await self.server.session_manager.handle_request(scope, receive, send)


def _refuse(status: int, message: str) -> JSONResponse:
    phrase = {401: "Unauthorized", 403: "Forbidden", 429: "Too Many Requests"}.get(
        status, "Error")
    headers = {"WWW-Authenticate": 'Bearer realm="coreviz-studio"'} if status == 401 else None
    return JSONResponse({"error": phrase, "message": message}, status_code=status,
                        headers=headers)


class Endpoint:
    """An ASGI object (not a function), so Starlette's Route hands it the raw request."""

    def __init__(self, mcp: McpHttp) -> None:
        self.mcp = mcp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.mcp.asgi(scope, receive, send)
