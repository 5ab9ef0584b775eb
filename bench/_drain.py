"""The floor of an upload over HTTP on this machine: uvicorn (as `coreviz-studio serve` runs
it: uvloop and httptools where installed) with an ASGI app that reads the request body and
drops it. No parsing, no hashing, no disk: what the HTTP server and the client cost alone.

    .venv/bin/python -m uvicorn bench._drain:app --port PORT
"""

from __future__ import annotations

from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": str(size).encode()})
