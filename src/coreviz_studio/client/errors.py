"""The exceptions of the client: one class per kind of answer, each carrying the server's
status, its stable error code (when it sends one) and its message for a person."""

from __future__ import annotations

from typing import Any

import httpx


class CoreVizError(Exception):
    """Anything the client raises on purpose."""


class ConnectionFailed(CoreVizError):
    """The server could not be reached (after the retries an idempotent request gets)."""


class UploadError(CoreVizError):
    """A resumable upload could not go on (the server's answer, if any, is its __cause__)."""


class APIError(CoreVizError):
    """The server answered with an error status. `code` is the server's machine-readable code
    (`digest_mismatch`, `authorization_pending`, ...) or None; `message` is its sentence."""

    status: int = 0

    def __init__(self, status: int, message: str, code: str | None = None,
                 body: Any = None, method: str = "", url: str = "",
                 headers: httpx.Headers | None = None) -> None:
        super().__init__(f"{status} {message}" + (f" ({code})" if code else ""))
        self.status = status
        self.message = message
        self.code = code
        self.body = body
        self.method = method
        self.url = url
        self.headers = headers or httpx.Headers()


class BadRequest(APIError):
    """400: a malformed query or body (also the device flow's pending/slow_down answers)."""


class Unauthorized(APIError):
    """401: no credential, or one the server does not accept."""


class Forbidden(APIError):
    """403: the credential is fine but its role may not do this."""


class NotFound(APIError):
    """404: no such thing (or another organization's, which looks the same)."""


class Conflict(APIError):
    """409: the state does not allow it (a name taken, a tus offset moved on)."""


class Gone(APIError):
    """410: it expired (a tus upload)."""


class PreconditionFailed(APIError):
    """412: a protocol precondition (tus: the Tus-Resumable version)."""


class TooLarge(APIError):
    """413: the body or the file is over the server's limit."""


class UnsupportedMediaType(APIError):
    """415: the server cannot take this type of file or body."""


class Unprocessable(APIError):
    """422: well-formed but invalid."""


class Locked(APIError):
    """423: another request holds it (a tus upload being written); ask again."""


class ChecksumMismatch(APIError):
    """460: tus Upload-Checksum did not match the bytes received."""


class RateLimited(APIError):
    """429: too many requests; `retry_after` is the server's wait in seconds (or None)."""

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("retry-after"))


class ServerError(APIError):
    """5xx other than 501 and 503."""


class NotImplementedByServer(APIError):
    """501: this server has no such capability configured (AI edit/generate)."""


class ServiceUnavailable(ServerError):
    """503: the database, the disk or the store is unavailable for now."""

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("retry-after"))


KINDS: dict[int, type[APIError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict,
    410: Gone, 412: PreconditionFailed, 413: TooLarge, 415: UnsupportedMediaType,
    422: Unprocessable, 423: Locked, 429: RateLimited, 460: ChecksumMismatch,
    501: NotImplementedByServer, 503: ServiceUnavailable,
}


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the delay form; an HTTP date is not used by this server)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def from_response(response: httpx.Response) -> APIError:
    """The exception for an error answer, with the server's message and code."""
    body: Any = None
    message = response.reason_phrase or "Error"
    code: str | None = None
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        if text:
            message = text[:500]
    if isinstance(body, dict):
        if isinstance(body.get("message"), str):
            message = body["message"]
        elif isinstance(body.get("error_description"), str):  # OAuth (device flow)
            message = body["error_description"]
        if isinstance(body.get("code"), str):
            code = body["code"]
        elif "error_description" in body and isinstance(body.get("error"), str):
            code = body["error"]
    status = response.status_code
    kind = KINDS.get(status) or (ServerError if status >= 500 else APIError)
    request = response.request
    return kind(status, message, code=code, body=body, method=request.method,
                url=str(request.url.copy_with(query=None)), headers=response.headers)
