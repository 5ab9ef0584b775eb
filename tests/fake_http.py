"""A scripted HTTP endpoint on 127.0.0.1 for the client's plumbing (retries, headers, a cut
connection): each request gets the next scripted answer; every request is recorded."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import BaseRequestHandler
from typing import Any


@dataclass
class Answer:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hang_up: bool = False  # close the connection without answering


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Fake:
    def __init__(self, answers: list[Answer]) -> None:
        self.answers = list(answers)
        self.seen: list[Seen] = []
        self.url = ""


@contextmanager
def serving(handler: Callable[..., BaseRequestHandler]) -> Iterator[str]:
    """Serve `handler` on 127.0.0.1 at a free port, in a thread, until the block ends; yields
    its base URL (what every fake endpoint of the tests does)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def reply(handler: BaseHTTPRequestHandler, status: int, data: bytes,
          content_type: str = "application/json",
          headers: dict[str, str] | None = None) -> None:
    """Answer the handler's request with these bytes."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    for k, v in (headers or {}).items():
        handler.send_header(k, v)
    handler.end_headers()
    handler.wfile.write(data)


@contextmanager
def fake_endpoint(*answers: Answer) -> Iterator[Fake]:
    fake = Fake(list(answers))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: Any) -> None:
            pass

        def _any(self) -> None:
            size = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(size) if size else b""
            fake.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body))
            answer = fake.answers.pop(0) if fake.answers else Answer(500, {"error": "script"})
            if answer.hang_up:
                self.close_connection = True
                self.connection.shutdown(2)
                return
            data = json.dumps(answer.body).encode() if answer.body is not None else b""
            reply(self, answer.status, data, headers=answer.headers)

        do_GET = do_POST = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _any

    with serving(Handler) as url:
        fake.url = url
        yield fake
