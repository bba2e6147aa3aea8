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
