"""`coreviz-studio mcp`: the MCP server over stdio, for a host that spawns it (Claude Desktop,
Claude Code, Cursor...). It reaches the server over HTTP with the typed client, as the user the
key or token belongs to; stdout carries the protocol alone (diagnostics go to stderr)."""

import anyio

from coreviz_studio.client import AsyncClient
from coreviz_studio.mcp_server.tools import build_server, single_client


async def serve(base_url: str | None, api_key: str | None, token: str | None) -> None:
    async with AsyncClient(base_url, api_key=api_key, token=token) as client:
        await build_server(single_client(client)).run_stdio_async()


def run(base_url: str | None, api_key: str | None, token: str | None) -> None:
    anyio.run(serve, base_url, api_key, token)
