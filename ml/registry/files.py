"""Read the manifest files of a directory, with the limits and the fingerprint of what was read."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ml.registry.load_errors import LoadError

MAX_MANIFEST_BYTES = 64 * 1024
MANIFEST_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class ManifestFile:
    path: Path
    text: str | None
    """The decoded content; None when ``error`` says why it could not be read."""
    error: LoadError | None
    digest: bytes


@dataclass(frozen=True, slots=True)
class Sources:
    files: tuple[ManifestFile, ...]
    error: LoadError | None
    """A problem with the directory itself; ``files`` is then empty."""
    fingerprint: str


def read_sources(directory: Path) -> Sources:
    """Read every ``*.yaml``/``*.yml`` file of ``directory`` (hidden files excluded), sorted."""
    try:
        paths = sorted(
            path
            for path in directory.iterdir()
            if path.suffix in MANIFEST_SUFFIXES
            and not path.name.startswith(".")
            and not path.is_dir()
        )
    except OSError as exc:
        error = LoadError(str(directory), None, None, f"cannot list manifests: {_reason(exc)}")
        return Sources(files=(), error=error, fingerprint=_fingerprint([], str(error)))
    files = [_read(path) for path in paths]
    return Sources(files=tuple(files), error=None, fingerprint=_fingerprint(files, ""))


def _read(path: Path) -> ManifestFile:
    def failed(message: str, digest: bytes, line: int | None = None) -> ManifestFile:
        return ManifestFile(path, None, LoadError(str(path), line, None, message), digest)

    try:
        with path.open("rb") as handle:
            # Reading one byte past the limit tells an oversized file without trusting a
            # stat that could be stale by the time the file is read.
            data = handle.read(MAX_MANIFEST_BYTES + 1)
            stat = os.fstat(handle.fileno())
    except OSError as exc:
        return failed(f"cannot be read: {_reason(exc)}", _reason(exc).encode())
    if len(data) > MAX_MANIFEST_BYTES:
        return failed(
            f"is {stat.st_size} bytes; a manifest may be at most {MAX_MANIFEST_BYTES} (64 KiB)",
            f"{stat.st_size}:{stat.st_mtime_ns}".encode() + data,
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        message = f"is not valid UTF-8 (byte 0x{data[exc.start]:02x}); save it as UTF-8"
        return failed(message, data, line)
    return ManifestFile(path, text, None, data)


def _reason(exc: OSError) -> str:
    return exc.strerror.lower() if exc.strerror else str(exc)


def _fingerprint(files: list[ManifestFile], extra: str) -> str:
    digest = hashlib.sha256(extra.encode())
    for item in files:
        for part in (item.path.name.encode(), hashlib.sha256(item.digest).digest()):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return digest.hexdigest()
