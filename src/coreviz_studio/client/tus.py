"""Resumable uploads over tus 1.0 (docs/uploads.md): create, PATCH in chunks with a sha256
Upload-Checksum, and on an error ask HEAD for the offset and go on from there.

An upload is known by its URL alone: persist `Upload.url` (the `on_created` callback hands it
over as soon as the server made it) and a later process resumes with `resume_url=`."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import httpx

from coreviz_studio.client.errors import (
    APIError,
    ChecksumMismatch,
    Conflict,
    ConnectionFailed,
    Locked,
    ServerError,
    UploadError,
)
from coreviz_studio.client.models import TusOptions, TusStatus, UploadResult

if TYPE_CHECKING:
    from coreviz_studio.client._async import AsyncClient
    from coreviz_studio.client._sync import Client

TUS_PATH = "/api/upload/tus"
TUS = {"Tus-Resumable": "1.0.0"}
CHUNK_TYPE = "application/offset+octet-stream"
DEFAULT_CHUNK = 8 * 1024 * 1024
MULTIPART_BELOW = 1024 * 1024  # smaller files go in one multipart POST: one request, faster
STALLS = 5  # failed PATCHes in a row, with no byte gained, before giving up

Progress = Callable[[int, int], Any]  # (bytes the server has, total)
Source = str | os.PathLike[str] | IO[bytes] | bytes
# What answers mean "ask HEAD and go on": a moved offset, a locked upload, a bad chunk, the
# server or the network failing.
_RESUMABLE = (Conflict, Locked, ChecksumMismatch, ServerError, ConnectionFailed)


def encode_metadata(fields: dict[str, str | None]) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}"
                    for k, v in fields.items() if v is not None)


def checksum(chunk: bytes) -> str:
    return "sha256 " + base64.b64encode(hashlib.sha256(chunk).digest()).decode()


def open_source(source: Source) -> tuple[IO[bytes], bool, str | None]:
    """(a seekable binary file, whether we opened it, its file name if known)."""
    if isinstance(source, bytes):
        return io.BytesIO(source), True, None
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        return p.open("rb"), True, p.name
    if not source.seekable():
        raise UploadError("an upload needs a seekable file (to resume from an offset)")
    name = getattr(source, "name", None)
    return source, False, Path(name).name if isinstance(name, str) else None


def length_of(f: IO[bytes]) -> int:
    here = f.tell()
    end = f.seek(0, io.SEEK_END)
    f.seek(here)
    return end


def read_at(f: IO[bytes], offset: int, size: int) -> bytes:
    f.seek(offset)
    return f.read(size)


def status_of(r: httpx.Response) -> TusStatus:
    h = r.headers
    length = h.get("upload-length")
    return TusStatus(offset=int(h["upload-offset"]), length=int(length) if length else None,
                     expires=h.get("upload-expires"), media_id=h.get("coreviz-media-id"),
                     media_url=h.get("coreviz-media-url"))


def options_of(r: httpx.Response) -> TusOptions:
    h = r.headers
    size = h.get("tus-max-size")
    split = lambda v: [x.strip() for x in (v or "").split(",") if x.strip()]  # noqa: E731
    return TusOptions(version=h.get("tus-version", ""), extensions=split(h.get("tus-extension")),
                      checksum_algorithms=split(h.get("tus-checksum-algorithm")),
                      max_size=int(size) if size else None)


def _done(status: TusStatus) -> UploadResult | None:
    if status.media_id:
        return UploadResult(media_id=status.media_id, url=status.media_url or "",
                            message="Upload completed")
    return None


class _Base:
    def __init__(self, source: Source, collection_id: str | None, *, path: str | None,
                 name: str | None, version_of: str | None, chunk_size: int,
                 on_progress: Progress | None, url: str | None) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        self.file, self._owned, filename = open_source(source)
        self.length = length_of(self.file)
        self.collection_id = collection_id
        self.metadata = {"datasetId": collection_id, "path": path, "name": name,
                         "versionOf": version_of, "filename": filename}
        self.chunk_size = chunk_size
        self.on_progress = on_progress
        self.url = url  # the upload's URL: what to persist to resume later
        self.offset = 0
        self.result: UploadResult | None = None

    def close(self) -> None:
        if self._owned:
            self.file.close()

    def _create_headers(self) -> dict[str, str]:
        if not self.collection_id:
            raise UploadError("a new upload needs a collection id")
        return {**TUS, "Upload-Length": str(self.length),
                "Upload-Metadata": encode_metadata(self.metadata)}

    def _patch_headers(self, chunk: bytes) -> dict[str, str]:
        return {**TUS, "Content-Type": CHUNK_TYPE, "Upload-Offset": str(self.offset),
                "Upload-Checksum": checksum(chunk)}

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.offset, self.length)

    def _check(self, status: TusStatus) -> None:
        if status.length is not None and status.length != self.length:
            raise UploadError(f"the upload at {self.url} is {status.length} bytes long, "
                              f"the file {self.length}: not the same file")


class Upload(_Base):
    """One tus upload driven by the sync Client."""

    def __init__(self, client: Client, source: Source, collection_id: str | None = None, *,
                 path: str | None = None, name: str | None = None,
                 version_of: str | None = None, chunk_size: int = DEFAULT_CHUNK,
                 on_progress: Progress | None = None, url: str | None = None) -> None:
        super().__init__(source, collection_id, path=path, name=name, version_of=version_of,
                         chunk_size=chunk_size, on_progress=on_progress, url=url)
        self.client = client

    def create(self) -> str:
        r = self.client.request("POST", TUS_PATH, headers=self._create_headers(),
                                idempotent=False)
        self.url = str(r.url.join(r.headers["location"]))
        self.offset = int(r.headers.get("upload-offset", "0"))
        return self.url

    def refresh(self) -> TusStatus:
        """Ask the server where the upload stands (HEAD) and take its offset."""
        assert self.url is not None
        status = status_of(self.client.request("HEAD", self.url, headers=TUS))
        self._check(status)
        self.offset = status.offset
        self.result = _done(status) or self.result
        return status

    def send(self, stop_at: int | None = None) -> UploadResult | None:
        """Send the bytes the server lacks (up to `stop_at`); the result once the file is in."""
        if self.url is None:
            self.create()
        else:
            self.refresh()
        self._progress()
        stalls = 0
        while self.result is None and (stop_at is None or self.offset < stop_at):
            if self.offset >= self.length and stalls == 0 and self.refresh().media_id:
                break
            end = self.length if stop_at is None else min(stop_at, self.length)
            chunk = read_at(self.file, self.offset, min(self.chunk_size, end - self.offset))
            try:
                r = self.client.request("PATCH", self.url or "", content=chunk,
                                        headers=self._patch_headers(chunk), idempotent=False)
            except _RESUMABLE as exc:
                stalls += 1
                if stalls >= STALLS:
                    raise UploadError(f"the upload makes no progress: {exc}") from exc
                before = self.offset
                self.client.wait_before_retry(exc, stalls)
                self.refresh()
                stalls = 0 if self.offset > before else stalls
                continue
            stalls = 0
            self.offset = int(r.headers["upload-offset"])
            self.result = _done(status_of(r))
            self._progress()
        return self.result


class AsyncUpload(_Base):
    """One tus upload driven by the AsyncClient (the same steps as Upload)."""

    def __init__(self, client: AsyncClient, source: Source, collection_id: str | None = None,
                 *, path: str | None = None, name: str | None = None,
                 version_of: str | None = None, chunk_size: int = DEFAULT_CHUNK,
                 on_progress: Progress | None = None, url: str | None = None) -> None:
        super().__init__(source, collection_id, path=path, name=name, version_of=version_of,
                         chunk_size=chunk_size, on_progress=on_progress, url=url)
        self.client = client

    async def create(self) -> str:
        r = await self.client.request("POST", TUS_PATH, headers=self._create_headers(),
                                      idempotent=False)
        self.url = str(r.url.join(r.headers["location"]))
        self.offset = int(r.headers.get("upload-offset", "0"))
        return self.url

    async def refresh(self) -> TusStatus:
        assert self.url is not None
        status = status_of(await self.client.request("HEAD", self.url, headers=TUS))
        self._check(status)
        self.offset = status.offset
        self.result = _done(status) or self.result
        return status

    async def send(self, stop_at: int | None = None) -> UploadResult | None:
        if self.url is None:
            await self.create()
        else:
            await self.refresh()
        self._progress()
        stalls = 0
        while self.result is None and (stop_at is None or self.offset < stop_at):
            if self.offset >= self.length and stalls == 0 and (await self.refresh()).media_id:
                break
            end = self.length if stop_at is None else min(stop_at, self.length)
            chunk = await asyncio.to_thread(read_at, self.file, self.offset,
                                            min(self.chunk_size, end - self.offset))
            try:
                r = await self.client.request("PATCH", self.url or "", content=chunk,
                                              headers=self._patch_headers(chunk),
                                              idempotent=False)
            except _RESUMABLE as exc:
                stalls += 1
                if stalls >= STALLS:
                    raise UploadError(f"the upload makes no progress: {exc}") from exc
                before = self.offset
                await self.client.wait_before_retry(exc, stalls)
                await self.refresh()
                stalls = 0 if self.offset > before else stalls
                continue
            stalls = 0
            self.offset = int(r.headers["upload-offset"])
            self.result = _done(status_of(r))
            self._progress()
        return self.result


def multipart_fields(collection_id: str, path: str | None, name: str | None,
                     version_of: str | None) -> dict[str, str]:
    return {k: v for k, v in {"datasetId": collection_id, "path": path, "name": name,
                              "versionOf": version_of}.items() if v is not None}


OnCreated = Callable[[str], Any] | Callable[[str], Awaitable[Any]]
__all__ = ["APIError", "AsyncUpload", "Upload", "encode_metadata"]
