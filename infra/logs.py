"""Logging set-up: one JSON object per line, with the request id of the request being served.

Messages name things (routes, ids, counts, reasons); callers never log snippet text,
signal payloads or tip text, and the libraries that might (LiteLLM at DEBUG) are held at
WARNING.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

LogFormat = Literal["auto", "json", "text"]
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_QUIET = (
    "httpx",
    "httpcore",
    "apscheduler.executors.default",
    "LiteLLM",
    "LiteLLM Router",
    "LiteLLM Proxy",
    "litellm",
    "watchfiles",
)


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """What the caller passed with ``extra=``: the record's attributes logging did not set."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid is not None:
            entry["request_id"] = rid
        entry.update(_extra_fields(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """One line a person reads: time, level, logger, message, then the extra fields."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = [f"{k}={v}" for k, v in _extra_fields(record).items() if v is not None]
        rid = request_id.get()
        if rid is not None:
            extras.append(f"request={rid}")
        return f"{line}  [{' '.join(extras)}]" if extras else line


def configure_logging(
    level: str = "INFO", fmt: LogFormat = "auto", stream: TextIO | None = None
) -> None:
    """Route every logger (ours, uvicorn's, the libraries') through one formatted handler.

    ``auto`` writes text lines to a terminal and JSON lines to anything else (a file, a
    pipe, a log collector), so a person and a machine each get what they read.
    """
    handler = logging.StreamHandler(stream)
    if fmt == "auto":
        fmt = "text" if handler.stream.isatty() else "json"
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in _QUIET:
        logging.getLogger(noisy).setLevel(logging.WARNING)
