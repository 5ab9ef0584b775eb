"""Request bodies against a real `coreviz-studio serve` (raw sockets: what a TestClient cannot
send): an oversize JSON body is refused without being read, a stalled or abandoned upload leaves
no pending file."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.processes import Server, server_on

pytestmark = pytest.mark.slow

STALL_SECONDS = 2
BOUNDARY = "cvs-test-boundary"


@pytest.fixture(scope="module")
def server(pg_url: str) -> Iterator[Server]:
    with server_on(pg_url, "cvs-bodies-",
                   COREVIZ_BODY_READ_TIMEOUT_SECONDS=str(STALL_SECONDS)) as srv:
        yield srv


def _connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.settimeout(60)  # a safety net against a hang, not a measurement
    return sock


def _head(server: Server, path: str, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}", *headers, "", ""]
    return "\r\n".join(lines).encode()


def _read_to_close(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:  # closed while our unsent bytes were still arriving
            return data
        if not chunk:
            return data
        data += chunk


def _answer(raw: bytes) -> tuple[int, dict[str, str], Any]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


def _pending(server: Server) -> list[Path]:
    return list((server.data_dir / "blobs" / "tmp").iterdir())


def test_an_oversize_json_body_is_refused_before_it_is_read(server) -> None:  # type: ignore[no-untyped-def]
    with _connect(server) as sock:
        sock.sendall(_head(server, "/api/auth/sign-in/email", "Content-Type: application/json",
                           f"Content-Length: {300 * 1024 * 1024}"))
        status, headers, body = _answer(_read_to_close(sock))
    assert status == 413 and headers["connection"] == "close"
    assert body["error"] == "Request Entity Too Large"
    assert "COREVIZ_MAX_JSON_BYTES" in body["message"]


def test_an_endless_chunked_body_is_cut_at_the_cap(server) -> None:  # type: ignore[no-untyped-def]
    with _connect(server) as sock:
        sock.sendall(_head(server, "/api/auth/sign-in/email", "Content-Type: application/json",
                           "Transfer-Encoding: chunked"))
        chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)

        def flood() -> None:  # until the server hangs up
            try:
                while True:
                    sock.sendall(chunk)
            except OSError:
                pass

        writer = threading.Thread(target=flood, daemon=True)
        writer.start()
        raw = _read_to_close(sock)
        writer.join(60)  # the writer stops: the server closed the connection
    status, headers, _ = _answer(raw)
    assert status == 413 and headers["connection"] == "close"
    assert not writer.is_alive()


def _upload_start(server: Server, key: str, declared: int) -> bytes:
    part = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\""
            "\r\nContent-Type: image/jpeg\r\n\r\n").encode()
    head = _head(server, "/api/upload/multipart", f"x-api-key: {key}",
                 f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
                 f"Content-Length: {declared}")
    return head + part + b"\xff" * (3 * 1024 * 1024)  # past one write batch: on disk already


def _until(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    """Wait for something the server does on its own (bounded)."""
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_stalled_upload_is_dropped_and_leaves_no_pending_file(server, make_member) -> None:  # type: ignore[no-untyped-def]
    with _connect(server) as sock:
        sock.sendall(_upload_start(server, make_member().key, 50 * 1024 * 1024))
        _until(lambda: _pending(server), "the upload never started")
        raw = _read_to_close(sock)  # nothing more is sent
    status, headers, body = _answer(raw)
    assert status == 408 and headers["connection"] == "close", raw[:300]
    assert "stalled" in body["message"]
    assert _pending(server) == []


def test_an_abandoned_upload_leaves_no_pending_file(server, make_member) -> None:  # type: ignore[no-untyped-def]
    with _connect(server) as sock:
        sock.sendall(_upload_start(server, make_member().key, 50 * 1024 * 1024))
        _until(lambda: _pending(server), "the upload never started")
    _until(lambda: not _pending(server), "the pending file stayed after the hang-up")


def test_the_cap_leaves_room_for_an_image_where_one_is_sent(client, make_member) -> None:  # type: ignore[no-untyped-def]
    body = json.dumps({"image": "data:image/png;base64," + "A" * (2 * 1024 * 1024)})
    json_type = {"content-type": "application/json"}
    r = client.post("/api/auth/sign-in/email", content=body, headers=json_type)
    assert r.status_code == 413 and r.headers["connection"] == "close"
    # /api/ai/* takes images as data URLs: room for one, but only for a caller whose credential
    # is good, checked before the body is read (a stranger's 2 MiB is refused unread).
    for stranger in ({}, {"x-api-key": "cvz_not-a-key"}, {"authorization": "Bearer nope"}):
        r = client.post("/api/ai/describe", content=body, headers={**json_type, **stranger})
        assert r.status_code == 413, (stranger, r.text)
    r = client.post("/api/ai/describe", content=body,
                    headers={**json_type, **make_member().headers})
    assert r.status_code not in (401, 413), r.text  # read, then refused as no image
    small = json.dumps({"image": "data:image/png;base64,AAAA"})
    assert client.post("/api/ai/describe", content=small, headers=json_type).status_code == 401
