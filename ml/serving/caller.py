"""Who is asking. The one dependency every route uses, so authentication has one home."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request


@dataclass(frozen=True, slots=True)
class Caller:
    kind: str
    subject: str | None = None


def resolve_caller(request: Request) -> Caller:
    """Resolve the caller of a request (no credentials are checked yet)."""
    return Caller(kind="anonymous")
