"""An optional image model behind an OpenAI-compatible images endpoint (edit and generate).

OpenAI itself, LocalAI, and most self-hosted gateways (LiteLLM, vLLM-omni, ...) accept

    POST {base_url}/images/generations   JSON {"model", "prompt", "n": 1, "size"?}
    POST {base_url}/images/edits         multipart: model, prompt, n, size?, and the picture(s)
                                         as `image` (one) or `image[]` (several, gpt-image-1)

and answer {"data": [{"b64_json": ...}]} or {"data": [{"url": ...}]}. `base_url` includes the
`/v1`. A `url` answer on the endpoint's own origin (LocalAI serves its pictures there) is
downloaded here, as the operator chose that host; any other is fetched by the caller with the
SSRF rules of /api/ai (ai/fetch.py): the endpoint is trusted with the prompt, not with choosing
what else this server connects to.

The answer is read with a byte cap (a runaway answer never fills memory) and a time limit.
Every failure is an ImagesApiError whose message is safe to log; the key is never in it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

_SNIPPET = 200  # characters of a bad answer quoted in an error
_HINTS = {
    401: " (is COREVIZ_IMAGE_API_KEY right?)",
    403: " (is COREVIZ_IMAGE_API_KEY right?)",
    404: " (is COREVIZ_IMAGE_API_BASE right, with its /v1, and is the model there?)",
}


class ImagesApiError(Exception):
    """The images endpoint could not be used; the message is safe to log (never the key)."""


@dataclass(frozen=True)
class Picture:
    """What the endpoint gave: the image's bytes, or a URL to fetch them from."""

    data: bytes | None = None
    url: str | None = None


class ImagesApi:
    """Client of one model on one OpenAI-compatible images endpoint (async, stateless)."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None,
                 timeout_s: float = 120, max_bytes: int = 64 * 1024 * 1024) -> None:
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("image API base URL must be http(s)://host[:port]/path")
        if not model.strip():
            raise ValueError("image API model name is empty")
        self.model = model.strip()
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self._api_key = (api_key or "").strip() or None
        self._secrets = [x for x in (self._api_key, parts.password, parts.query) if x]
        path = parts.path.rstrip("/")
        self._base = (parts.scheme, parts.netloc, path, parts.query)
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        netloc = f"{host}:{parts.port}" if parts.port else host
        self.base_url = urlunsplit((parts.scheme, netloc, path, "", ""))  # shown in logs

    def __repr__(self) -> str:
        return f"ImagesApi({self.base_url!r}, model={self.model!r})"  # never the key

    def _url(self, endpoint: str) -> str:
        scheme, netloc, path, query = self._base
        return urlunsplit((scheme, netloc, f"{path}/images/{endpoint}", query, ""))

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    async def generate(self, prompt: str, size: str | None) -> Picture:
        body: dict[str, Any] = {"model": self.model, "prompt": prompt, "n": 1}
        if size:
            body["size"] = size
        return await self._post("generations", json=body)

    async def edit(self, pngs: list[bytes], prompt: str, size: str | None) -> Picture:
        fields = {"model": self.model, "prompt": prompt, "n": "1"}
        if size:
            fields["size"] = size
        name = "image" if len(pngs) == 1 else "image[]"
        files = [(name, (f"image{i}.png", png, "image/png")) for i, png in enumerate(pngs)]
        return await self._post("edits", data=fields, files=files)

    def is_own(self, url: str) -> bool:
        """Whether `url` is on the endpoint's own origin (scheme, host and port)."""
        parts, base = urlsplit(url), urlsplit(urlunsplit((*self._base[:2], "", "", "")))
        return (parts.scheme, parts.hostname, parts.port) == (base.scheme, base.hostname,
                                                              base.port)

    async def download(self, url: str) -> bytes:
        """A picture the endpoint answered as a URL on its own origin (is_own), with the
        same time limit and byte cap as its answers."""
        return await self._call("GET", url, "its picture")

    async def _post(self, endpoint: str, **request: Any) -> Picture:
        return self._picture(await self._call("POST", self._url(endpoint), endpoint, **request))

    async def _call(self, method: str, url: str, what: str, **request: Any) -> bytes:
        try:
            # httpx's timeout bounds each wait; this bounds the whole call (a slow drip too).
            async with asyncio.timeout(self.timeout_s), \
                    httpx.AsyncClient(timeout=self.timeout_s) as client, \
                    client.stream(method, url, headers=self._headers(),
                                  **request) as answer:
                body = await self._read(answer)
                status, redirect = answer.status_code, answer.is_redirect
        except (httpx.TimeoutException, TimeoutError):
            raise ImagesApiError(f"{self._where()} did not answer within "
                                 f"{self.timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            # from None: a chained httpx error may quote the URL with its credentials.
            raise ImagesApiError(f"{self._where()} could not be reached: "
                                 f"{self._snippet(str(exc)) or type(exc).__name__}") from None
        if not 200 <= status < 300:
            # Redirects are not followed: the key would go wherever one points.
            hint = " (a redirect: configure the URL it points to)" if redirect \
                else _HINTS.get(status, "")
            text = self._snippet(body.decode("utf-8", "replace"))
            raise ImagesApiError(f"{self._where()} answered HTTP {status}{hint} for {what}"
                                 + (f": {text}" if text else ""))
        return body

    async def _read(self, answer: httpx.Response) -> bytes:
        chunks, size = [], 0
        async for chunk in answer.aiter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise ImagesApiError(f"{self._where()} answered more than {self.max_bytes:,} "
                                     "bytes (COREVIZ_IMAGE_API_MAX_BYTES)")
            chunks.append(chunk)
        return b"".join(chunks)

    def _picture(self, body: bytes) -> Picture:
        try:
            data = json.loads(body)
            first = data["data"][0]
        except (ValueError, KeyError, IndexError, TypeError):
            raise ImagesApiError(f"{self._where()} answered something other than "
                                 '{"data": [{"b64_json" or "url": ...}]}: '
                                 f"{self._snippet(body.decode('utf-8', 'replace'))}") from None
        if isinstance(first, dict) and isinstance(first.get("b64_json"), str):
            try:
                return Picture(data=base64.b64decode(first["b64_json"], validate=True))
            except (binascii.Error, ValueError):
                raise ImagesApiError(f"{self._where()} answered b64_json that is not "
                                     "base64") from None
        if isinstance(first, dict) and isinstance(first.get("url"), str):
            return Picture(url=first["url"])
        raise ImagesApiError(f"{self._where()} answered no image (neither b64_json nor url)")

    def _where(self) -> str:
        return f"image API {self.model} at {self.base_url}"

    def _snippet(self, text: str) -> str:
        text = " ".join(text.split())
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text if len(text) <= _SNIPPET else text[:_SNIPPET] + "..."
