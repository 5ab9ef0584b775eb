"""Errors that carry their HTTP status and a message for a person.

One handler (in app.py) turns them into the contract's JSON: {"error": reason, "message": ...}.
"""

from __future__ import annotations

from http import HTTPStatus

# Statuses outside HTTPStatus that the API answers (tus's checksum extension).
EXTRA_PHRASES = {460: "Checksum Mismatch"}


def phrase(status: int) -> str:
    if status in EXTRA_PHRASES:
        return EXTRA_PHRASES[status]
    return HTTPStatus(status).phrase


class AppError(Exception):
    status: int = 500
    # True when the request's changes must commit even though it answers with this error
    # (a device poll records its time before answering "authorization_pending").
    keep_changes: bool = False

    def __init__(self, message: str, status: int | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code  # a stable machine-readable code, for clients that switch on one
        self.headers = headers or {}
        if status is not None:
            self.status = status

    @property
    def reason(self) -> str:
        return phrase(self.status)


class BadRequest(AppError):
    status = 400


class Unauthorized(AppError):
    status = 401

    def __init__(self, message: str = "Invalid or missing API key",
                 code: str | None = None) -> None:
        super().__init__(message, code=code)


class Forbidden(AppError):
    status = 403


class NotFound(AppError):
    status = 404


class Conflict(AppError):
    status = 409


class Gone(AppError):
    status = 410


class PreconditionFailed(AppError):
    status = 412


class Locked(AppError):
    status = 423


class ChecksumMismatch(AppError):
    """tus's checksum extension: the chunk's checksum is not the one the client sent."""

    status = 460


class Invalid(AppError):
    status = 422


class TooLarge(AppError):
    status = 413


class UnsupportedMediaType(AppError):
    status = 415


class TooManyRequests(AppError):
    status = 429


class NotImplementedYet(AppError):
    status = 501


class BadGateway(AppError):
    """A service this server relies on (a configured model endpoint) failed."""

    status = 502


class Unavailable(AppError):
    status = 503


class InsufficientStorage(AppError):
    """The server's disk (or its database's) is full: nothing is wrong with the request."""

    status = 507

    def __init__(self, message: str = "The server's disk is full, so the file could not be "
                 "stored; nothing was saved. Try again once an administrator has freed space.",
                 ) -> None:
        super().__init__(message, code="disk_full", headers={"Retry-After": "60"})
