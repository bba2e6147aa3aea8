"""Errors meant for the caller: each names the problem and maps to one HTTP status."""

from __future__ import annotations

from typing import Any


class NudgeError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    @property
    def headers(self) -> dict[str, str]:
        return {}


class NotFound(NudgeError):
    status = 404
    code = "not_found"

    def __init__(self, what: str, ident: str) -> None:
        super().__init__(f"{what} {ident!r} does not exist")


class Invalid(NudgeError):
    status = 422
    code = "invalid"


class Conflict(NudgeError):
    status = 409
    code = "conflict"


class Unavailable(NudgeError):
    status = 503
    code = "unavailable"


class Unauthorized(NudgeError):
    status = 401
    code = "unauthorized"

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="nudge"'}


class Forbidden(NudgeError):
    status = 403
    code = "forbidden"


class TooManyRequests(NudgeError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}
