"""A stand-in for an OpenAI-compatible vision endpoint, on 127.0.0.1, that records requests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fake_http import reply, serving


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
            reply(self, fake.status, body.encode())

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as url:
        fake.url = f"{url}/v1"
        yield fake
