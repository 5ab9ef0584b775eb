"""tus against a real `coreviz-studio serve`: the real client (tuspy, over HTTP) uploads in
chunks, stops and resumes from the server's offset; raw sockets cut a PATCH off midway."""

from __future__ import annotations

import hashlib
import io
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from tusclient.client import TusClient
from tusclient.uploader import Uploader

from tests import media_files
from tests.library import Library
from tests.processes import QUIET, Server, server_on
from tests.tus_client import CHUNK, TUS, metadata

pytestmark = pytest.mark.slow

STALL_SECONDS = 2


class Sha256Uploader(Uploader):  # type: ignore[misc]
    """tuspy's uploader with the checksum this server checks (tuspy's default is sha1)."""

    CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)


@pytest.fixture(scope="module")
def server(pg_url: str) -> Iterator[Server]:
    with server_on(pg_url, "cvs-tus-",
                   COREVIZ_BODY_READ_TIMEOUT_SECONDS=str(STALL_SECONDS)) as srv:
        yield srv


@pytest.fixture
def lib(client, make_member) -> Library:  # type: ignore[no-untyped-def]
    return Library(client, make_member())


def _video(tmp_path) -> bytes:  # type: ignore[no-untyped-def]
    return media_files.video(tmp_path / "v.mp4", "mp4", "libx264", seconds=2.0)


def _result(server: Server, lib: Library, url: str) -> dict:  # type: ignore[type-arg]
    r = httpx.get(url if url.startswith("http") else server.url + url, headers=lib.headers)
    assert r.status_code == 200, r.text
    answer: dict = r.json()  # type: ignore[type-arg]
    return answer


def test_tuspy_uploads_in_chunks_stops_and_resumes(server: Server, lib: Library,  # type: ignore[no-untyped-def]
                                                   tmp_path) -> None:
    data = _video(tmp_path)
    client = TusClient(f"{server.url}/api/upload/tus", headers=lib.headers)
    meta = {"datasetId": lib.id, "filename": "clip.mp4"}
    first = Sha256Uploader(client=client, file_stream=io.BytesIO(data), chunk_size=4096,
                           metadata=meta, upload_checksum=True)
    first.upload(stop_at=len(data) // 2)  # an interrupted client: half of it sent
    assert first.url is not None and 0 < first.offset < len(data)
    # a new client process: it knows only the URL and asks the server for the offset (HEAD)
    again = Sha256Uploader(client=client, file_stream=io.BytesIO(data), chunk_size=64 * 1024,
                           url=first.url, upload_checksum=True)
    assert again.offset == first.offset
    again.upload()
    assert again.offset == len(data)
    media_id = again.request.response_headers["coreviz-media-id"]
    assert _result(server, lib, first.url)["mediaId"] == media_id
    media = lib.media(media_id)
    assert media["type"] == "video" and media["name"] == "clip.mp4"
    assert media["sha256"] == hashlib.sha256(data).hexdigest()
    assert media["sizeBytes"] == len(data)


def _connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.settimeout(60)  # a safety net against a hang, not a measurement
    return sock


def _patch_head(server: Server, lib: Library, path: str, offset: int, length: int,
                **extra: str) -> bytes:
    headers = {**lib.headers, **CHUNK, "Upload-Offset": str(offset),
               "Content-Length": str(length), **extra}
    lines = [f"PATCH {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}",
             *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode()


def _create(server: Server, lib: Library, length: int) -> str:
    r = httpx.post(f"{server.url}/api/upload/tus", headers={
        **lib.headers, **TUS, "Upload-Length": str(length),
        "Upload-Metadata": metadata(datasetId=lib.id, filename="cut.mp4")})
    assert r.status_code == 201, r.text
    return r.headers["location"]


def _offset(server: Server, lib: Library, path: str) -> int:
    r = httpx.head(server.url + path, headers={**lib.headers, **TUS})
    assert r.status_code == 200, r.status_code
    return int(r.headers["upload-offset"])


def _read_to_close(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_a_stalled_patch_keeps_what_arrived(server: Server, lib: Library, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = _video(tmp_path)
    path = _create(server, lib, len(data))
    sent = len(data) // 3
    with _connect(server) as sock:
        sock.sendall(_patch_head(server, lib, path, 0, len(data)) + data[:sent])
        raw = _read_to_close(sock)  # nothing more is sent: the server gives up on the rest
    assert raw.startswith(b"HTTP/1.1 408"), raw[:300]
    assert _offset(server, lib, path) == sent  # kept before the 408 was answered
    r = httpx.patch(server.url + path, content=data[sent:], headers={
        **lib.headers, **CHUNK, "Upload-Offset": str(sent)})
    assert r.status_code == 204, r.text
    media = lib.media(r.headers["coreviz-media-id"])
    assert media["sha256"] == hashlib.sha256(data).hexdigest()


def test_a_patch_cut_off_by_a_closed_socket_resumes_from_the_offset(server: Server,  # type: ignore[no-untyped-def]
                                                                    lib: Library,
                                                                    tmp_path) -> None:
    data = _video(tmp_path)
    path = _create(server, lib, len(data))
    sent = len(data) // 2
    with _connect(server) as sock:
        sock.sendall(_patch_head(server, lib, path, 0, len(data)) + data[:sent])
    # The server keeps what it read before it noticed the hang-up (up to all that was sent);
    # a client resumes from HEAD's offset, asking again while that PATCH still holds the
    # upload (423) or was still appending when HEAD answered (409).
    deadline = time.monotonic() + 60
    while True:
        offset = _offset(server, lib, path)
        assert 0 <= offset <= sent
        r = httpx.patch(server.url + path, content=data[offset:], headers={
            **lib.headers, **CHUNK, "Upload-Offset": str(offset)})
        if r.status_code == 204:
            break
        assert r.status_code in (409, 423), r.text
        assert time.monotonic() < deadline, "the cut-off PATCH never let go"
        time.sleep(0.05)
    media = lib.media(r.headers["coreviz-media-id"])
    assert media["sha256"] == hashlib.sha256(data).hexdigest()


def test_a_cut_off_patch_with_a_checksum_keeps_nothing(server: Server, lib: Library,  # type: ignore[no-untyped-def]
                                                       tmp_path) -> None:
    data = _video(tmp_path)
    path = _create(server, lib, len(data))
    with _connect(server) as sock:
        sock.sendall(_patch_head(server, lib, path, 0, len(data),
                                 **{"Upload-Checksum": "sha256 " + "A" * 43 + "="})
                     + data[:len(data) // 2])
        raw = _read_to_close(sock)
    assert raw.startswith(b"HTTP/1.1 408"), raw[:300]
    assert _offset(server, lib, path) == 0  # half a chunk cannot match its checksum


def test_a_server_killed_during_a_patch_resumes_from_the_recorded_offset(pg_url: str,  # type: ignore[no-untyped-def]
                                                                         client, make_member,
                                                                         tmp_path) -> None:
    """Bytes a killed server wrote in place but never recorded are dropped by the next PATCH
    (to the next server on that data dir), never counted nor mixed into the file."""
    # An MP4 with junk after it still probes. Half of it must pass the receiver's 1 MiB batch,
    # or nothing reaches the file until the body ends (here: the 30 s read timeout, which
    # records the bytes, so the kill would have to land in the few ms before that commit).
    video = _video(tmp_path)
    data = video * ((4 << 20) // len(video) + 1)
    with server_on(pg_url, "cvs-tus-kill-") as first:
        lib = Library(client, make_member())
        path = _create(first, lib, len(data))
        parts = list(first.data_dir.rglob("tus/*.part"))
        assert len(parts) == 1
        with _connect(first) as sock:
            sock.sendall(_patch_head(first, lib, path, 0, len(data)) + data[:len(data) // 2])
            deadline = time.monotonic() + 60
            while parts[0].stat().st_size == 0:  # the server is writing the body in place
                assert time.monotonic() < deadline, "the server never wrote the body"
                time.sleep(0.02)
            first.kill9()
        assert parts[0].stat().st_size > 0  # bytes on disk that no row knows of
        again = Server(first.data_dir, env={"DATABASE_URL": pg_url, **QUIET})
        try:
            assert _offset(again, lib, path) == 0
            r = httpx.patch(again.url + path, content=data, headers={
                **lib.headers, **CHUNK, "Upload-Offset": "0"})
            assert r.status_code == 204, r.text
            media = lib.media(r.headers["coreviz-media-id"])
            assert media["sha256"] == hashlib.sha256(data).hexdigest()
            assert media["sizeBytes"] == len(data)
            blob = httpx.get(again.url + "/" + media["blob"].split("/", 3)[3])
            assert blob.status_code == 200 and blob.content == data
        finally:
            again.terminate()
