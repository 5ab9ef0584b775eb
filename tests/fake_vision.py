"""A stand-in for an OpenAI-compatible vision endpoint, on 127.0.0.1, that records requests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeVision:
    def __init__(self, answer: str = "A tabby cat resting on a rug.", status: int = 200) -> None:
        self.answer = answer
        self.status = status
        self.seen: list[dict[str, Any]] = []
        self.url = ""


@contextmanager
def fake_vision(**kwargs: Any) -> Iterator[FakeVision]:
    fake = FakeVision(**kwargs)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            fake.seen.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            body = json.dumps({"choices": [{"message": {"content": f"  {fake.answer}  "}}]})
            if fake.status != 200:
                body = json.dumps({"error": "model crashed"})
            data = body.encode()
            self.send_response(fake.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
