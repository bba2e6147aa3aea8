"""Who is asking, and for whom they may act. The one dependency every /v1 route uses.

Two kinds of credential travel as ``Authorization: Bearer ...``:

- service tokens (opaque random strings): the **gateway** acts for any user by naming
  them; an **admin** token also has the admin scope. Only their SHA-256 digests are
  kept in memory, and a presented token is compared with every digest in constant time.
- user tokens: a JWT signed with HS256, the user id as ``sub`` and an ``exp``; it acts
  only for that user. ``scope: "admin"`` in the token adds the admin scope.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from nudge_infra.errors import Forbidden, Unauthorized

CallerKind = Literal["gateway", "admin", "user"]
ADMIN = "admin"
_USER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ALGORITHM = "HS256"
_MAX_TOKEN_CHARS = 4096


@dataclass(frozen=True, slots=True)
class Caller:
    kind: CallerKind
    subject: str
    """The user id of a user token; the credential's role for a service token."""
    scopes: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.scopes

    def may_act_for(self, user_id: str) -> bool:
        return self.kind != "user" or self.subject == user_id or self.is_admin


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class Authenticator:
    """Turn a bearer credential into a ``Caller``, or refuse it."""

    def __init__(
        self,
        *,
        gateway_tokens: Sequence[str],
        admin_tokens: Sequence[str],
        jwt_secret: str,
        clock: Callable[[], datetime],
        leeway: timedelta = timedelta(seconds=30),
    ) -> None:
        if len(jwt_secret) < 32:
            raise ValueError("the JWT secret must be at least 32 characters")
        self._services: list[tuple[bytes, Caller]] = [
            (digest(t), Caller("gateway", "gateway")) for t in gateway_tokens
        ] + [(digest(t), Caller("admin", "admin", frozenset({ADMIN}))) for t in admin_tokens]
        self._secret = jwt_secret
        self._clock = clock
        self._leeway = leeway

    def authenticate(self, token: str | None) -> Caller:
        if not token:
            raise Unauthorized("a bearer credential is required")
        if len(token) > _MAX_TOKEN_CHARS:
            raise Unauthorized("the bearer credential is not valid")
        presented = digest(token)
        found: Caller | None = None
        for known, caller in self._services:  # no early exit: the time does not tell which
            if hmac.compare_digest(presented, known):
                found = caller
        if found is not None:
            return found
        if token.count(".") == 2:
            return self._user(token)
        raise Unauthorized("the bearer credential is not valid")

    def issue(self, user_id: str, *, ttl: timedelta, scopes: Sequence[str] = ()) -> str:
        """A signed user token (for the CLI and tests; a real deployment's IdP does this)."""
        if not _USER_ID.match(user_id):
            raise ValueError(f"{user_id!r} is not a valid user id")
        now = self._clock()
        claims: dict[str, Any] = {"sub": user_id, "iat": now, "exp": now + ttl}
        if scopes:
            claims["scope"] = " ".join(scopes)
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM)

    def _user(self, token: str) -> Caller:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                # Times are checked below against the injected clock, not the wall clock.
                options={
                    "require": ["sub", "exp"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"the user token is not valid ({_why(exc)})") from None
        now, leeway = self._clock().timestamp(), self._leeway.total_seconds()
        exp, nbf = claims.get("exp"), claims.get("nbf", 0)
        if not isinstance(exp, int | float) or not isinstance(nbf, int | float):
            raise Unauthorized("the user token is not valid (exp or nbf is not a number)")
        if exp + leeway <= now:
            raise Unauthorized("the user token has expired")
        if nbf - leeway > now:
            raise Unauthorized("the user token is not valid yet")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not _USER_ID.match(subject):
            raise Unauthorized("the user token's subject is not a user id")
        scope = claims.get("scope", "")
        scopes = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
        return Caller("user", subject, scopes & {ADMIN})


def _why(exc: jwt.InvalidTokenError) -> str:
    if isinstance(exc, jwt.InvalidSignatureError):
        return "bad signature"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"missing claim {exc.claim}"
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return "algorithm not allowed"
    return "malformed"


_bearer = HTTPBearer(auto_error=False, description="a gateway, admin or user token")

CallerDependency = Callable[..., Awaitable[Caller]]
"""What routers declare with ``Depends``: the request's authenticated caller."""


def caller_dependency(auth: Authenticator) -> CallerDependency:
    """The dependency every /v1 router declares: authenticate, then check the user scope.

    A route whose path names a ``user_id`` is refused (403) to a user token of another
    user. Tip routes check the tip's owner themselves (the path holds only the tip id).
    It runs on the event loop: a hash and a signature check, no I/O, are cheaper than the
    hop to a worker thread a plain function would take, and under load that hop queued
    every request behind the thread pool's contention for the GIL.
    """

    async def resolve(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    ) -> Caller:
        caller = auth.authenticate(credentials.credentials if credentials else None)
        user_id = request.path_params.get("user_id")
        if isinstance(user_id, str) and not caller.may_act_for(user_id):
            raise Forbidden("this credential cannot act for that user")
        request.state.caller = caller
        return caller

    return resolve


def require_owner(caller: Caller, owner: str) -> None:
    if not caller.may_act_for(owner):
        raise Forbidden("this credential cannot act for that user")


def require_service(caller: Caller) -> None:
    """Gateway or admin: operational reads that are not one user's data."""
    if caller.kind == "user" and not caller.is_admin:
        raise Forbidden("this route needs a service credential")


def require_admin(caller: Caller) -> None:
    if not caller.is_admin:
        raise Forbidden("this route needs the admin scope")
