"""A small client of the library endpoints for tests: one member, one collection."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from tests.conftest import Member


class Library:
    def __init__(self, client: TestClient, member: Member, name: str = "Photos") -> None:
        self.client = client
        self.member = member
        r = client.post(f"/api/organization/{member.org_id}/datasets", headers=member.headers,
                        json={"name": name})
        assert r.status_code == 201, r.text
        self.id: str = r.json()["id"]
        self.root = self.id.replace("-", "")

    @property
    def headers(self) -> dict[str, str]:
        return self.member.headers

    def upload_raw(self, data: bytes, filename: str = "photo.jpg", **fields: str) -> Response:
        form = {"datasetId": self.id, **fields}
        return self.client.post("/api/upload/multipart", headers=self.headers, data=form,
                                files={"file": (filename, data, "application/octet-stream")})

    def upload(self, data: bytes, filename: str = "photo.jpg", **fields: str) -> dict[str, Any]:
        r = self.upload_raw(data, filename, **fields)
        assert r.status_code == 201, r.text
        return self.media(r.json()["mediaId"])

    def media(self, media_id: str) -> dict[str, Any]:
        r = self.client.get(f"/api/media/{media_id}", headers=self.headers)
        assert r.status_code == 200, r.text
        media: dict[str, Any] = r.json()["media"]
        return media

    def folder(self, name: str, path: str | None = None, **extra: Any) -> dict[str, Any]:
        body = {"datasetId": self.id, "name": name, **extra}
        if path is not None:
            body["path"] = path
        r = self.client.post("/api/folder", headers=self.headers, json=body)
        assert r.status_code == 201, r.text
        folder: dict[str, Any] = r.json()["folder"]
        return folder

    def browse(self, **params: Any) -> dict[str, Any]:
        r = self.client.get(f"/api/dataset/{self.id}/media", headers=self.headers, params=params)
        assert r.status_code == 200, r.text
        page: dict[str, Any] = r.json()
        return page

    def names(self, **params: Any) -> list[str]:
        return [m["name"] for m in self.browse(limit=1000, **params)["media"]]

    def move(self, media_id: str, destination: str) -> Response:
        return self.client.patch(f"/api/media/{media_id}/move", headers=self.headers,
                                 json={"destinationPath": destination})
