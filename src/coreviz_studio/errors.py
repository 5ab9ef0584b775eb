"""Errors that carry their HTTP status and a message for a person.

One handler (in app.py) turns them into the contract's JSON: {"error": reason, "message": ...}.
"""

from __future__ import annotations

from http import HTTPStatus


class AppError(Exception):
    status: int = 500

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status

    @property
    def reason(self) -> str:
        return HTTPStatus(self.status).phrase


class BadRequest(AppError):
    status = 400


class Unauthorized(AppError):
    status = 401

    def __init__(self, message: str = "Invalid or missing API key") -> None:
        super().__init__(message)


class Forbidden(AppError):
    status = 403


class NotFound(AppError):
    status = 404


class Conflict(AppError):
    status = 409


class Invalid(AppError):
    status = 422


class Unavailable(AppError):
    status = 503
