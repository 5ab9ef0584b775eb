"""Turning the `image` field of /api/ai/describe|tag|embed requests into bytes.

The field is a data URL (decoded here) or an http(s) URL that the server fetches. Fetching a
URL that a client names is a server-side request forgery risk, so the fetch:

- accepts only http and https, on ports 80 and 443, with no user name or password in the URL;
- resolves the host itself and refuses it when ANY address is not public (loopback, private,
  link-local with the cloud metadata address, CGNAT, multicast, reserved, IPv4 tucked in IPv6);
  numeric hosts (`2130706433`, `0x7f.1`, `127.1`) are read the way the OS would read them;
- connects to the address it checked: the URL handed to httpx names the IP, while the Host
  header and TLS SNI/verification use the host name, so no second DNS answer can rebind it;
- follows at most 3 redirects by hand, checking every hop the same way;
- stops at a total deadline and at `max_bytes`, and uses no cookies, proxies or environment.

Every failure is a `BadRequest` whose message talks about the client's URL, never about the
server (no addresses it resolved, no exception text).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import ipaddress
import logging
import re
import socket
import ssl
import urllib.parse
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any, TypeAlias

import certifi
import httpx

from coreviz_studio.errors import BadRequest

log = logging.getLogger(__name__)

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver: TypeAlias = Callable[[str, int], Awaitable[list[str]]]
AddressCheck: TypeAlias = Callable[[IPAddress], bool]

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_PORTS: frozenset[int] = frozenset({80, 443})
MAX_REDIRECTS = 3
MAX_URL_LENGTH = 8192

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORT = {"http": 80, "https": 443}
_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*")
# DNS64 networks reach IPv4-only hosts through this prefix; the IPv4 inside is what counts.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_HEADERS = {
    "Accept": "image/*",
    # Compressed bodies would need decoding, and decoding is where size caps get dodged.
    "Accept-Encoding": "identity",
    "User-Agent": "coreviz-studio",
}


def is_public_address(ip: IPAddress) -> bool:
    """True when `ip` is a globally reachable unicast address (the default fetch policy).

    `is_global` alone is not enough on Python 3.11: it says True for multicast, for the NAT64
    and 6to4 forms of private IPv4 addresses and for IPv4-compatible `::a.b.c.d`.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:  # a zone index only belongs on link-local addresses
            return False
        if ip.ipv4_mapped is not None:
            return is_public_address(ip.ipv4_mapped)
        if ip in _NAT64:
            return is_public_address(ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF))
        if ip.sixtofour is not None and not is_public_address(ip.sixtofour):
            return False
    return ip.is_global and not (
        ip.is_multicast
        or ip.is_private
        or ip.is_reserved
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_unspecified
    )


async def resolve_host(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host` (getaddrinfo, in a worker thread)."""
    infos = await asyncio.to_thread(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for *_, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def decode_data_url(url: str, max_bytes: int) -> bytes:
    """The bytes of a base64 `data:image/...;base64,...` URL, at most `max_bytes` of them."""
    head, comma, data = url.strip().partition(",")
    if not comma or head[:5].lower() != "data:":
        raise BadRequest("data URL is not valid")
    media_type, *params = (part.strip().lower() for part in head[5:].split(";"))
    if not media_type.startswith("image/"):
        raise BadRequest("data URL must hold an image (image/*)")
    if "base64" not in params:
        raise BadRequest("data URL must be base64-encoded")
    # Line breaks and URL escapes turn up in hand-made data URLs; base64 itself has neither.
    text = "".join(data.split())
    if "%" in text:
        text = urllib.parse.unquote(text)
    if not text:
        raise BadRequest("data URL is empty")
    # Refuse by the decoded size before decoding, so a huge field costs no second copy.
    if len(text.rstrip("=")) * 3 // 4 > max_bytes:
        raise BadRequest(f"image is larger than {max_bytes} bytes")
    try:
        decoded = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("data URL is not valid base64") from None
    if not decoded:
        raise BadRequest("data URL is empty")
    if len(decoded) > max_bytes:
        raise BadRequest(f"image is larger than {max_bytes} bytes")
    return decoded


async def load_image_bytes(
    source: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    resolver: Resolver | None = None,
    allow: AddressCheck = is_public_address,
    ports: Collection[int] = DEFAULT_PORTS,
    max_redirects: int = MAX_REDIRECTS,
) -> bytes:
    """The bytes behind an `image` field: a data URL, or an http(s) URL fetched safely.

    `resolver` maps (host, port) to address strings (default: getaddrinfo); `allow` says which
    resolved addresses may be connected to and `ports` which ports (tests widen both to reach
    a loopback server; production keeps the defaults). `timeout_s` bounds the whole fetch,
    DNS and redirects included.
    """
    source = source.strip()
    if source[:5].lower() == "data:":
        return decode_data_url(source, max_bytes)
    url = _parse_source(source)
    fetch = _Fetch(
        max_bytes=max_bytes,
        resolver=resolver or resolve_host,
        allow=allow,
        ports=frozenset(ports),
        max_redirects=max_redirects,
        timeout_s=timeout_s,
    )
    try:
        async with asyncio.timeout(timeout_s):
            return await fetch.run(url)
    except (TimeoutError, httpx.TimeoutException):
        raise BadRequest("image URL timed out") from None
    except httpx.HTTPError as exc:
        # Protocol and read errors: the details are the server's business, not the client's.
        log.info("image fetch failed: %r", exc)
        raise BadRequest("image URL could not be fetched") from None


def _parse_source(source: str) -> httpx.URL:
    scheme, colon, _ = source.partition(":")
    if not colon or not _SCHEME.fullmatch(scheme):
        raise BadRequest("image must be a data URL or an http(s) URL")
    if scheme.lower() not in _DEFAULT_PORT:
        raise BadRequest("image URL must use http or https")
    if len(source) > MAX_URL_LENGTH:
        raise BadRequest("image URL is too long")
    try:
        return httpx.URL(source)
    except (httpx.InvalidURL, ValueError):
        raise BadRequest("image URL is not valid") from None


@dataclass(frozen=True)
class _Target:
    """One checked hop: where to connect and what to tell the server."""

    url: httpx.URL  # as written (relative redirects are joined against it)
    host: str  # ASCII (IDNA) host without brackets: what DNS, SNI and verification get
    port: int
    host_header: str  # host[:port], as the server expects it


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # One context for all fetches: loading the CA bundle per request costs real CPU.
    return ssl.create_default_context(cafile=certifi.where())


@dataclass(frozen=True)
class _Fetch:
    max_bytes: int
    resolver: Resolver
    allow: AddressCheck
    ports: frozenset[int]
    max_redirects: int
    timeout_s: float

    async def run(self, url: httpx.URL) -> bytes:
        for hop in range(self.max_redirects + 1):
            label = "image URL" if hop == 0 else "image URL redirect"
            target = self._check_url(url, label)
            addresses = await self._addresses(target, label)
            # The bare transport, not a Client: no cookies, auth, environment or redirect
            # machinery (a Client parses every Location even when not following it). A fresh
            # one per hop, so no pooled connection is reused for another host name.
            async with httpx.AsyncHTTPTransport(
                verify=_tls_context(), trust_env=False, retries=0
            ) as transport:
                response = await self._connect(transport, target, addresses)
                try:
                    location = response.headers.get("location")
                    if response.status_code in _REDIRECT_STATUSES and location:
                        if hop == self.max_redirects:
                            raise BadRequest(
                                f"image URL redirected more than {self.max_redirects} times"
                            )
                        url = _join(url, location)
                        continue
                    if response.status_code != 200:
                        raise BadRequest(f"image URL answered {response.status_code}")
                    return await self._read_body(response)
                finally:
                    await response.aclose()
        raise AssertionError("unreachable: the last hop returns or raises")

    def _check_url(self, url: httpx.URL, label: str) -> _Target:
        if url.scheme not in _DEFAULT_PORT:
            raise BadRequest(f"{label} must use http or https")
        if url.userinfo:
            raise BadRequest(f"{label} must not contain a user name or password")
        host = url.raw_host.decode("ascii")
        if not host:
            raise BadRequest(f"{label} has no host")
        port = url.port if url.port is not None else _DEFAULT_PORT[url.scheme]
        if port not in self.ports:
            allowed = " or ".join(str(p) for p in sorted(self.ports))
            raise BadRequest(f"{label} must use port {allowed}")
        return _Target(url=url, host=host, port=port, host_header=url.netloc.decode("ascii"))

    async def _addresses(self, target: _Target, label: str) -> list[IPAddress]:
        numeric = _numeric_address(target.host)
        if numeric is not None:
            addresses = [numeric]
        else:
            try:
                names = await self.resolver(target.host, target.port)
                addresses = [ipaddress.ip_address(name) for name in names]
            except (OSError, UnicodeError, ValueError):
                raise BadRequest(f"{label} host could not be resolved") from None
            if not addresses:
                raise BadRequest(f"{label} host could not be resolved")
        # ALL must pass: which address a connection ends up on is not ours to choose.
        if not all(self.allow(address) for address in addresses):
            raise BadRequest(f"{label} points to a non-public address")
        return addresses

    async def _connect(
        self, transport: httpx.AsyncHTTPTransport, target: _Target, addresses: list[IPAddress]
    ) -> httpx.Response:
        """The response (headers only, body streamed) from the first address that connects."""
        extensions: dict[str, Any] = {"timeout": httpx.Timeout(self.timeout_s).as_dict()}
        if target.url.scheme == "https":
            # SNI and certificate checks use the host name although the connection goes to
            # the pinned IP (httpcore reads this request extension).
            extensions["sni_hostname"] = target.host
        for address in addresses:
            request = httpx.Request(
                "GET",
                target.url.copy_with(host=str(address), port=target.port, fragment=None),
                headers={**_HEADERS, "Host": target.host_header},
                extensions=extensions,
            )
            try:
                return await transport.handle_async_request(request)
            except httpx.ConnectError as exc:
                # Refused, unreachable (an IPv6 address without a route) or TLS failure.
                log.info("image fetch could not connect to %s: %r", address, exc)
        raise BadRequest("image URL could not be reached")

    async def _read_body(self, response: httpx.Response) -> bytes:
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise BadRequest("image URL answered with a compressed body")
        too_large = f"image is larger than {self.max_bytes} bytes"
        length = response.headers.get("content-length", "").strip()
        if length.isdigit() and int(length) > self.max_bytes:
            raise BadRequest(too_large)  # refuse before reading a byte of it
        body = bytearray()
        async for chunk in response.aiter_raw():
            body += chunk
            if len(body) > self.max_bytes:
                raise BadRequest(too_large)
        if not body:
            raise BadRequest("image URL answered with an empty body")
        return bytes(body)


def _numeric_address(host: str) -> IPAddress | None:
    """The address a numeric host stands for, read as the OS reads it; None for a name.

    AI_NUMERICHOST never asks DNS, and it knows the old inet_aton forms (`2130706433`,
    `0x7f.1`, `0177.0.0.1`, `127.1`), so those can't slip past as "names".
    """
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
        return ipaddress.ip_address(str(infos[0][4][0])) if infos else None
    except (OSError, UnicodeError, ValueError):
        return None


def _join(base: httpx.URL, location: str) -> httpx.URL:
    try:
        return base.join(location)
    except (httpx.InvalidURL, ValueError):
        raise BadRequest("image URL redirected to an invalid URL") from None
