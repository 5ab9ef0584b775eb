"""The `image` field of /api/ai requests: data URLs, and http(s) fetches that can't be aimed
at the server's own network (SSRF).

No test touches the internet. A real loopback HTTP server counts the connections it accepts,
so "refused" means refused before connecting. The default policy refuses 127.0.0.1 too, so
the tests that must fetch widen `allow` to exactly 127.0.0.1 (and `ports` to the server's
port) and show that everything else is still checked on every hop.
"""

from __future__ import annotations

import asyncio
import base64
import io
import ipaddress
import shutil
import ssl
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from coreviz_studio.ai import fetch
from coreviz_studio.ai.fetch import (
    IPAddress,
    decode_data_url,
    is_public_address,
    load_image_bytes,
    resolve_host,
)
from coreviz_studio.errors import BadRequest

IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4  # what /ok serves


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (2, 2), (200, 10, 10)).save(out, format="PNG")
    return out.getvalue()


# --- a loopback server that counts connections -------------------------------------------


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a stalled handler must not hold up the test's teardown

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.connections = 0
        self.hosts: list[str] = []
        self.release = threading.Event()
        self.lock = threading.Lock()
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{'https' if isinstance(self.socket, ssl.SSLSocket) else 'http'}://{host}:{self.port}{path}"

    def verify_request(self, request: Any, client_address: Any) -> bool:
        with self.lock:
            self.connections += 1
        return True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hang up on purpose (size caps, timeouts)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked encoding needs it
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.hosts.append(self.headers.get("Host", ""))
        parts = urllib.parse.urlsplit(self.path)
        path, query = parts.path, urllib.parse.parse_qs(parts.query)
        if path == "/ok":
            self.answer(200, IMAGE)
        elif path.startswith("/chain/"):  # /chain/N: N more redirects, then the image
            left = int(path.rsplit("/", 1)[1])
            if left == 0:
                self.answer(200, IMAGE)
            else:
                self.answer(302, b"", {"Location": f"/chain/{left - 1}"})
        elif path == "/redirect":
            self.answer(302, b"", {"Location": query["to"][0]})
        elif path.startswith("/status/"):
            self.answer(int(path.rsplit("/", 1)[1]), b"nope")
        elif path.startswith("/big/"):  # honest Content-Length
            self.answer(200, b"x" * int(path.rsplit("/", 1)[1]))
        elif path.startswith("/chunked/"):  # no Content-Length at all
            self.chunked(int(path.rsplit("/", 1)[1]))
        elif path == "/gzip":
            self.answer(200, IMAGE, {"Content-Encoding": "gzip"})
        elif path == "/stall":  # never answers (until teardown)
            self.server.release.wait(10)
        elif path == "/stall-body":  # headers, a little body, then nothing
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x" * 10)
            self.wfile.flush()
            self.server.release.wait(10)
        else:
            self.answer(404, b"")

    def answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def chunked(self, size: int) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        sent = 0
        while sent < size:
            piece = min(4096, size - sent)
            self.wfile.write(b"%x\r\n%s\r\n" % (piece, b"y" * piece))
            sent += piece
        self.wfile.write(b"0\r\n\r\n")


def serve(tls: ssl.SSLContext | None = None) -> Iterator[Server]:
    server = Server(tls)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def server() -> Iterator[Server]:
    yield from serve()


# --- helpers --------------------------------------------------------------------------------


class FakeResolver:
    """DNS as a table; remembers what it was asked."""

    def __init__(self, table: dict[str, list[str]] | None = None) -> None:
        self.table = table or {}
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.table:
            raise OSError("no such host")
        return self.table[host]


def loopback_only(ip: IPAddress) -> bool:
    return ip == ipaddress.IPv4Address("127.0.0.1")


def load(source: str, **kwargs: Any) -> bytes:
    return asyncio.run(load_image_bytes(source, **kwargs))


def refused(source: str, **kwargs: Any) -> str:
    with pytest.raises(BadRequest) as caught:
        load(source, **kwargs)
    assert caught.value.status == 400
    return caught.value.message


@pytest.fixture
def no_send(monkeypatch: pytest.MonkeyPatch) -> list[httpx.Request]:
    """Any request httpx is asked to send is recorded and fails the fetch."""
    sent: list[httpx.Request] = []

    async def send(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> Any:
        sent.append(request)
        raise AssertionError("a refused URL was requested")

    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", send)
    return sent


# --- the address policy ------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.255.0.9", "10.0.0.1", "172.16.0.1", "172.31.255.254", "192.168.1.1",
        "169.254.169.254", "169.254.0.1", "0.0.0.0", "100.64.0.1", "224.0.0.1",  # noqa: S104
        "239.255.255.250", "255.255.255.255", "240.0.0.1", "198.18.0.1", "192.0.2.1",
        "::1", "::", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1",
        "fc00::1", "fd12:3456::1", "fe80::1", "ff02::1", "ff0e::1", "2001:db8::1",
        "64:ff9b::a00:1", "64:ff9b::7f00:1", "2002:7f00:1::", "2002:a00:1::", "::7f00:1",
        "fe80::1%1",
    ],
)
def test_non_public_addresses_are_not_allowed(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


def test_the_default_resolver_uses_the_system_resolver() -> None:
    assert "127.0.0.1" in asyncio.run(resolve_host("localhost", 80))


# --- refused before any connection -------------------------------------------------------


def test_loopback_by_address_is_refused(server: Server, no_send: list[httpx.Request]) -> None:
    # The port is allowed here so that the address is what gets it refused.
    message = refused(server.url("/x"), ports={server.port})
    assert message == "image URL points to a non-public address"
    assert server.connections == 0 and no_send == []


def test_localhost_is_refused(server: Server, no_send: list[httpx.Request]) -> None:
    message = refused(server.url("/", host="localhost"), ports={server.port})
    assert message == "image URL points to a non-public address"
    assert server.connections == 0 and no_send == []


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2130706433", "image URL points to a non-public address"),
        ("0x7f.1", "image URL points to a non-public address"),
        ("127.1", "image URL points to a non-public address"),
        ("0x7f000001", "image URL points to a non-public address"),
        ("017700000001", "image URL points to a non-public address"),
        ("0", "image URL points to a non-public address"),
        # Four dotted parts must be a plain IPv4 address for httpx's parser.
        ("0177.0.0.1", "image URL is not valid"),
    ],
)
def test_odd_numeric_forms_of_loopback_are_refused(
    server: Server, no_send: list[httpx.Request], host: str, expected: str
) -> None:
    # Even a resolver that would call them public is not asked: the OS's numeric reading wins.
    liar = FakeResolver({host: ["93.184.216.34"]})
    for resolver in (None, liar):
        message = refused(server.url("/", host=host), ports={server.port}, resolver=resolver)
        assert message == expected
    assert liar.asked == []
    assert server.connections == 0 and no_send == []


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://100.64.0.1/",
        "https://169.254.169.254/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
    ],
)
def test_literal_private_addresses_are_refused(
    server: Server, no_send: list[httpx.Request], url: str
) -> None:
    assert refused(url) == "image URL points to a non-public address"
    assert server.connections == 0 and no_send == []


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://example.com/a.png", "gopher://example.com:70/_GET", "ws://a/"],
)
def test_other_schemes_are_refused(no_send: list[httpx.Request], url: str) -> None:
    assert refused(url) == "image URL must use http or https"
    assert no_send == []


@pytest.mark.parametrize("source", ["", "hello", "iVBORw0KGgoAAAANSUhEUg==", "/etc/passwd"])
def test_neither_data_nor_http_url_is_refused(no_send: list[httpx.Request], source: str) -> None:
    assert refused(source) == "image must be a data URL or an http(s) URL"


def test_userinfo_is_refused(no_send: list[httpx.Request]) -> None:
    resolver = FakeResolver({"example.com": ["93.184.216.34"]})
    for url in ("http://user:pw@example.com/", "http://user@example.com/"):
        message = refused(url, resolver=resolver)
        assert message == "image URL must not contain a user name or password"
    assert resolver.asked == [] and no_send == []


@pytest.mark.parametrize("url", ["http://example.com:22/", "https://example.com:8443/"])
def test_other_ports_are_refused(no_send: list[httpx.Request], url: str) -> None:
    resolver = FakeResolver({"example.com": ["93.184.216.34"]})
    assert refused(url, resolver=resolver) == "image URL must use port 80 or 443"
    assert resolver.asked == [] and no_send == []


def test_a_name_resolving_to_loopback_is_refused(
    server: Server, no_send: list[httpx.Request]
) -> None:
    resolver = FakeResolver({"internal.test": ["127.0.0.1"]})
    message = refused(server.url("/ok", host="internal.test"), resolver=resolver,
                      ports={server.port})
    assert message == "image URL points to a non-public address"
    assert resolver.asked == ["internal.test"]
    assert server.connections == 0 and no_send == []


@pytest.mark.parametrize(
    "answers", [["93.184.216.34", "127.0.0.1"], ["127.0.0.1", "93.184.216.34"],
                ["2606:4700::1", "fd00::1"]],
)
def test_one_private_address_among_public_ones_is_refused(
    server: Server, no_send: list[httpx.Request], answers: list[str]
) -> None:
    resolver = FakeResolver({"mixed.test": answers})
    message = refused(server.url("/ok", host="mixed.test"), resolver=resolver,
                      ports={server.port})
    assert message == "image URL points to a non-public address"
    assert server.connections == 0 and no_send == []


def test_an_unresolvable_name_is_refused(no_send: list[httpx.Request]) -> None:
    tables: list[dict[str, list[str]]] = [{}, {"empty.test": []}, {"empty.test": ["x"]}]
    for table in tables:
        message = refused("http://empty.test/", resolver=FakeResolver(table))
        assert message == "image URL host could not be resolved"
    assert no_send == []


# --- fetching (with an allow-list of exactly 127.0.0.1) ----------------------------------


def test_a_fetch_returns_the_body(server: Server) -> None:
    assert load(server.url("/ok"), allow=loopback_only, ports={server.port}) == IMAGE
    assert server.connections == 1


def test_a_fetch_connects_to_the_checked_address_with_the_original_host(server: Server) -> None:
    # "images.test" exists only in the fake resolver: reaching the server at all shows the
    # connection went to the pinned address (no second lookup), and Host still names the host.
    resolver = FakeResolver({"images.test": ["127.0.0.1"]})
    url = server.url("/ok", host="images.test")
    assert load(url, resolver=resolver, allow=loopback_only, ports={server.port}) == IMAGE
    assert resolver.asked == ["images.test"]
    assert server.hosts == [f"images.test:{server.port}"]


def test_an_address_that_does_not_connect_falls_through_to_the_next(server: Server) -> None:
    # Nothing listens on 127.0.0.2 (the server is bound to 127.0.0.1 only).
    resolver = FakeResolver({"images.test": ["127.0.0.2", "127.0.0.1"]})
    allow = {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("127.0.0.2")}
    url = server.url("/ok", host="images.test")
    assert load(url, resolver=resolver, allow=allow.__contains__, ports={server.port}) == IMAGE


def test_an_unreachable_server_is_reported(server: Server) -> None:
    resolver = FakeResolver({"images.test": ["127.0.0.2"]})
    url = server.url("/ok", host="images.test")
    message = refused(url, resolver=resolver, allow=lambda ip: True, ports={server.port})
    assert message == "image URL could not be reached"


def test_an_error_status_is_reported(server: Server) -> None:
    for status in (404, 500, 204):
        message = refused(server.url(f"/status/{status}"), allow=loopback_only,
                          ports={server.port})
        assert message == f"image URL answered {status}"


def test_up_to_three_redirects_are_followed(server: Server) -> None:
    assert load(server.url("/chain/3"), allow=loopback_only, ports={server.port}) == IMAGE
    assert server.connections == 4


def test_a_fourth_redirect_is_refused(server: Server) -> None:
    message = refused(server.url("/chain/4"), allow=loopback_only, ports={server.port})
    assert message == "image URL redirected more than 3 times"
    assert server.connections == 4  # the fifth request was never made


def test_the_redirect_limit_can_be_lowered(server: Server) -> None:
    loop = server.url("/redirect?to=" + urllib.parse.quote(server.url("/redirect?to=/chain/9")))
    message = refused(loop, allow=loopback_only, ports={server.port}, max_redirects=1)
    assert message == "image URL redirected more than 1 times"


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("http://10.0.0.1/", "image URL redirect points to a non-public address"),
        ("http://169.254.169.254/latest/meta-data/",
         "image URL redirect points to a non-public address"),
        ("http://[::1]/", "image URL redirect points to a non-public address"),
        ("http://0x0a000001/", "image URL redirect points to a non-public address"),
        ("http://private.test/", "image URL redirect points to a non-public address"),
        ("ftp://example.com/a.png", "image URL redirect must use http or https"),
        ("file:///etc/passwd", "image URL redirect must use http or https"),
        ("data:image/png;base64,iVBORw0KGgo=", "image URL redirect must use http or https"),
        ("http://example.com:22/", "image URL redirect must use port 80 or 443 or {port}"),
        ("http://u:p@example.com/", "image URL redirect must not contain a user name or password"),
    ],
)
def test_every_redirect_hop_is_checked(server: Server, location: str, expected: str) -> None:
    resolver = FakeResolver({"private.test": ["10.0.0.1"], "example.com": ["93.184.216.34"]})
    url = server.url("/redirect?to=" + urllib.parse.quote(location, safe=""))
    message = refused(url, resolver=resolver, allow=loopback_only, ports={80, 443, server.port})
    assert message == expected.format(port=server.port)
    assert server.connections == 1  # only the first hop, to the allowed server


def test_a_redirect_to_an_allowed_host_name_is_pinned_too(server: Server) -> None:
    resolver = FakeResolver({"cdn.test": ["127.0.0.1"]})
    url = server.url("/redirect?to=" + urllib.parse.quote(server.url("/ok", host="cdn.test")))
    assert load(url, resolver=resolver, allow=loopback_only, ports={server.port}) == IMAGE
    assert server.hosts == [f"127.0.0.1:{server.port}", f"cdn.test:{server.port}"]


def test_a_body_over_the_limit_with_content_length_is_refused(server: Server) -> None:
    message = refused(server.url("/big/5000"), allow=loopback_only, ports={server.port},
                      max_bytes=1000)
    assert message == "image is larger than 1000 bytes"
    exact = load(server.url("/big/1000"), allow=loopback_only, ports={server.port},
                 max_bytes=1000)
    assert len(exact) == 1000


def test_a_chunked_body_over_the_limit_is_refused(server: Server) -> None:
    message = refused(server.url("/chunked/50000"), allow=loopback_only, ports={server.port},
                      max_bytes=10000)
    assert message == "image is larger than 10000 bytes"
    body = load(server.url("/chunked/9000"), allow=loopback_only, ports={server.port},
                max_bytes=10000)
    assert body == b"y" * 9000


def test_compressed_and_empty_bodies_are_refused(server: Server) -> None:
    message = refused(server.url("/gzip"), allow=loopback_only, ports={server.port})
    assert message == "image URL answered with a compressed body"
    message = refused(server.url("/big/0"), allow=loopback_only, ports={server.port})
    assert message == "image URL answered with an empty body"


@pytest.mark.parametrize("path", ["/stall", "/stall-body"])
def test_a_stalling_server_is_cut_at_the_deadline(server: Server, path: str) -> None:
    started = time.monotonic()
    message = refused(server.url(path), allow=loopback_only, ports={server.port}, timeout_s=0.5)
    assert message == "image URL timed out"
    assert time.monotonic() - started < 3


def test_the_deadline_covers_dns() -> None:
    async def slow(host: str, port: int) -> list[str]:
        await asyncio.sleep(5)
        return ["93.184.216.34"]

    started = time.monotonic()
    assert refused("http://slow.test/", resolver=slow, timeout_s=0.3) == "image URL timed out"
    assert time.monotonic() - started < 3


# --- https: connect to the pinned address, verify the certificate against the host name ----


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", "/CN=images.test", "-addext", "subjectAltName=DNS:images.test"],
        check=True, capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_server(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
               ) -> Iterator[tuple[Server, list[str | None]]]:
    cert, key = certificate
    names: list[str | None] = []  # the SNI each handshake carried
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(cert, key)

    def remember_sni(sock: ssl.SSLObject, name: str | None, context: ssl.SSLContext) -> None:
        names.append(name)

    server_side.sni_callback = remember_sni
    client_side = ssl.create_default_context(cafile=str(cert))  # trusts the test certificate
    monkeypatch.setattr(fetch, "_tls_context", lambda: client_side)
    for server in serve(server_side):
        yield server, names


def test_https_is_verified_against_the_host_name_on_the_pinned_address(
    tls_server: tuple[Server, list[str | None]],
) -> None:
    server, names = tls_server
    resolver = FakeResolver({"images.test": ["127.0.0.1"]})
    url = server.url("/ok", host="images.test")
    assert load(url, resolver=resolver, allow=loopback_only, ports={server.port}) == IMAGE
    assert names == ["images.test"]
    assert server.hosts == [f"images.test:{server.port}"]


def test_https_with_a_certificate_for_another_name_is_refused(
    tls_server: tuple[Server, list[str | None]],
) -> None:
    server, names = tls_server
    resolver = FakeResolver({"other.test": ["127.0.0.1"]})
    url = server.url("/ok", host="other.test")
    message = refused(url, resolver=resolver, allow=loopback_only, ports={server.port})
    assert message == "image URL could not be reached"
    assert names == ["other.test"] and server.hosts == []


# --- data URLs ---------------------------------------------------------------------------


def data_url(payload: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(payload).decode()}"


def test_a_data_url_decodes() -> None:
    png = png_bytes()
    assert decode_data_url(data_url(png), 1 << 20) == png
    assert load(data_url(png)) == png
    assert load("  " + data_url(png, "IMAGE/PNG") + "\n") == png


def test_a_data_url_tolerates_line_breaks_and_missing_padding() -> None:
    png = png_bytes()
    text = base64.b64encode(png).decode().rstrip("=")
    wrapped = "\n".join(text[i:i + 60] for i in range(0, len(text), 60))
    assert decode_data_url(f"data:image/png;base64,{wrapped}", 1 << 20) == png


def test_a_data_url_with_invalid_base64_is_refused() -> None:
    for payload in ("@@@@", "iVBO!!==", "a", "iVBORw0KGgo=é"):
        with pytest.raises(BadRequest, match=r"^data URL is not valid base64$"):
            decode_data_url(f"data:image/png;base64,{payload}", 1 << 20)


def test_a_data_url_that_is_not_an_image_is_refused() -> None:
    for url in (data_url(b"hello", "text/plain"), "data:;base64,aGVsbG8=",
                data_url(b"{}", "application/json")):
        with pytest.raises(BadRequest, match=r"^data URL must hold an image \(image/\*\)$"):
            load(url)


def test_a_data_url_must_be_base64() -> None:
    with pytest.raises(BadRequest, match=r"^data URL must be base64-encoded$"):
        decode_data_url("data:image/svg+xml,%3Csvg%3E%3C/svg%3E", 1 << 20)
    with pytest.raises(BadRequest, match=r"^data URL is not valid$"):
        decode_data_url("data:image/png;base64", 1 << 20)
    with pytest.raises(BadRequest, match=r"^data URL is empty$"):
        decode_data_url("data:image/png;base64,", 1 << 20)


def test_a_data_url_over_the_limit_is_refused() -> None:
    png = png_bytes()
    with pytest.raises(BadRequest, match=rf"^image is larger than {len(png) - 1} bytes$"):
        decode_data_url(data_url(png), len(png) - 1)
    assert decode_data_url(data_url(png), len(png)) == png
    with pytest.raises(BadRequest, match=r"^image is larger than 100 bytes$"):
        load(data_url(b"\0" * 101), max_bytes=100)
