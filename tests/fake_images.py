"""A stand-in for an OpenAI-compatible images endpoint (/v1/images/generations and
/v1/images/edits), on 127.0.0.1, that records every request and answers a real picture.

`answer` picks the answer: "b64" (the picture as b64_json), "url" (a URL to fetch it from),
"error" (HTTP 500 with a body that echoes the Authorization header, as some servers do),
"huge" (more bytes than any cap allows), or "hang" (no answer until the fake is closed).
"""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any

from PIL import Image

from tests.fake_http import reply, serving


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    json: dict[str, Any] | None = None
    fields: dict[str, str] = field(default_factory=dict)  # multipart text fields
    files: list[tuple[str, bytes]] = field(default_factory=list)  # multipart (name, bytes)


@dataclass
class FakeImages:
    size: tuple[int, int] = (1024, 1024)
    answer: str = "b64"
    url_answer: str = ""  # what a "url" answer points at
    seen: list[Seen] = field(default_factory=list)
    url: str = ""
    closing: threading.Event = field(default_factory=threading.Event)

    def picture(self) -> bytes:
        """An orange picture with a blue band: something that decodes and is easy to check."""
        img = Image.new("RGB", self.size, (240, 140, 20))
        img.paste((20, 60, 200), (0, 0, self.size[0], self.size[1] // 4))
        out = io.BytesIO()
        img.save(out, "PNG")
        return out.getvalue()


def _multipart(content_type: str, body: bytes) -> tuple[dict[str, str], list[tuple[str, bytes]]]:
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields, files = {}, []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        if part.get_filename():
            files.append((str(name), data))
        else:
            fields[str(name)] = data.decode()
    return fields, files


@contextmanager
def fake_images(**kwargs: Any) -> Iterator[FakeImages]:
    fake = FakeImages(**kwargs)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen = Seen(self.path, dict(self.headers.items()))
            kind = self.headers.get("Content-Type", "")
            if kind.startswith("multipart/"):
                seen.fields, seen.files = _multipart(kind, body)
            else:
                seen.json = json.loads(body)
            fake.seen.append(seen)
            status, answer = 200, b""
            if fake.answer == "hang":
                fake.closing.wait()
                return
            if fake.answer == "b64":
                answer = json.dumps({"created": 1, "data": [
                    {"b64_json": base64.b64encode(fake.picture()).decode()}]}).encode()
            elif fake.answer == "url":
                answer = json.dumps({"data": [{"url": fake.url_answer}]}).encode()
            elif fake.answer == "error":
                status = 500
                answer = json.dumps({"error": {"message": "model crashed for "
                                     + self.headers.get("Authorization", "")}}).encode()
            elif fake.answer == "huge":
                answer = b'{"data": [{"b64_json": "' + b"A" * 300_000 + b'"}]}'
            reply(self, status, answer)

        def do_GET(self) -> None:  # where a "url" answer on the fake's own origin points
            fake.seen.append(Seen(self.path, dict(self.headers.items())))
            reply(self, 200, fake.picture(), "image/png")

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as url:
        fake.url = f"{url}/v1"
        try:
            yield fake
        finally:
            fake.closing.set()
