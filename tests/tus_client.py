"""Raw tus 1.0 requests for tests (the real client, tuspy, is used in tests/test_tus_server.py)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from tests.library import Library

TUS = {"Tus-Resumable": "1.0.0"}
CHUNK = {**TUS, "Content-Type": "application/offset+octet-stream"}


def metadata(**fields: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in fields.items())


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


class Tus:
    def __init__(self, client: Any, lib: Library) -> None:
        self.client: TestClient = client
        self.lib = lib

    def create(self, length: int, body: bytes | None = None, headers: dict[str, str] | None = None,
               **fields: str) -> Response:
        h = {**self.lib.headers, **TUS, "Upload-Length": str(length),
             "Upload-Metadata": metadata(**{"datasetId": self.lib.id, **fields}),
             **({"Content-Type": CHUNK["Content-Type"]} if body is not None else {}),
             **(headers or {})}
        return self.client.post("/api/upload/tus", headers=h, content=body)

    def new(self, length: int, **fields: str) -> str:
        r = self.create(length, **fields)
        assert r.status_code == 201, r.text
        location: str = r.headers["location"]
        return location

    def patch(self, url: str, offset: int, data: bytes, **headers: str) -> Response:
        return self.client.patch(url, content=data, headers={
            **self.lib.headers, **CHUNK, "Upload-Offset": str(offset), **headers})

    def head(self, url: str) -> Response:
        return self.client.head(url, headers={**self.lib.headers, **TUS})

    def offset(self, url: str) -> int:
        r = self.head(url)
        assert r.status_code == 200, (r.status_code, r.headers)
        return int(r.headers["upload-offset"])

    def upload(self, data: bytes, chunk: int = 64 * 1024, **fields: str) -> Response:
        """Create, then PATCH chunk by chunk; the last PATCH's answer."""
        url = self.new(len(data), **fields)
        r: Response | None = None
        for start in range(0, len(data), chunk):
            r = self.patch(url, start, data[start:start + chunk])
            assert r.status_code == 204, r.text
        assert r is not None
        return r
