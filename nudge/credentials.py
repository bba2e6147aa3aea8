"""The service's own credentials: taken from settings, or generated once for development.

Production must set them (the settings refuse to start otherwise). In development and
tests, a missing one is generated with ``secrets`` and kept in a 0600 file under the
data directory, so restarts keep working and nothing lands in the repository.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from nudge.settings import Settings

GATEWAY_FILE = "gateway-token"
ADMIN_FILE = "admin-token"
JWT_FILE = "jwt-secret"


@dataclass(frozen=True, slots=True)
class Credentials:
    gateway_token: str
    admin_token: str
    jwt_secret: str
    files: dict[str, Path]
    """Where each generated credential lives (empty when all came from settings)."""


def load_or_create(settings: Settings) -> Credentials:
    files: dict[str, Path] = {}

    def value(secret: SecretStr | None, name: str) -> str:
        if secret is not None:
            return secret.get_secret_value()
        path = settings.data_dir / name
        files[name] = path
        return _read_or_create(path)

    return Credentials(
        gateway_token=value(settings.gateway_token, GATEWAY_FILE),
        admin_token=value(settings.admin_token, ADMIN_FILE),
        jwt_secret=value(settings.jwt_secret, JWT_FILE),
        files=files,
    )


def _read_or_create(path: Path) -> str:
    for _ in range(50):
        try:
            existing = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            existing = None
        if existing is not None and len(existing) >= 32:
            return existing
        if existing is not None:  # another process is writing it, or it is damaged
            time.sleep(0.02)
            continue
        token = secrets.token_urlsafe(32)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # Exclusive and 0600 from the start: one writer, never readable by others.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(token + "\n")
        return token
    raise RuntimeError(f"{path} holds no usable credential; delete it to have a new one made")
