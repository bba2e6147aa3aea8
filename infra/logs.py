"""Logging set-up: one JSON object per line, with the request id of the request being served.

Messages name things (routes, ids, counts, reasons); callers never log snippet text,
signal payloads or tip text, and the libraries that might (LiteLLM at DEBUG) are held at
WARNING.
"""

from __future__ import annotations

import atexit
import json
import logging
import queue
from contextvars import ContextVar
from datetime import UTC, datetime
from logging.handlers import QueueHandler, QueueListener
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
    """What the caller passed with ``extra=``: the record's attributes logging did not set,
    less bare markers (LiteLLM stamps each record it has scrubbed with an ``object()``)."""
    return {
        k: v
        for k, v in vars(record).items()
        if k not in _STANDARD and not k.startswith("_") and type(v) is not object
    }


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


class Handoff(QueueHandler):
    """Format a record where it is logged (the request id is known there) and leave the
    write to a thread of its own: a log reader that falls behind or stops reading never
    stalls the event loop. When ``capacity`` lines wait, later ones are dropped and
    counted, and the count is logged once lines flow again."""

    def __init__(self, target: logging.Handler, capacity: int) -> None:
        self._lines: queue.Queue[logging.LogRecord | None] = queue.Queue(capacity)
        super().__init__(self._lines)
        self.setFormatter(target.formatter)
        target.setFormatter(logging.Formatter("%(message)s"))  # the line is made here
        self.listener = _Writer(self._lines, target)
        self.dropped = 0

    def enqueue(self, record: logging.LogRecord) -> None:
        # Called under the handler's lock, so the count needs no other.
        if self.dropped and self._put(self._dropped_record()):
            self.dropped = 0
        if not self._put(record):
            self.dropped += 1

    def stop(self) -> None:
        """Write what waits and the count of dropped lines, then stop the writer thread."""
        try:
            with self.lock:  # type: ignore[union-attr]
                if self.dropped:
                    self._lines.put(self._dropped_record(), timeout=_STOP_WAIT_S)
                    self.dropped = 0
            self.listener.stop()
        except queue.Full:
            pass  # the reader stopped reading: what waits cannot be written (a daemon thread)

    def _put(self, record: logging.LogRecord) -> bool:
        try:
            self._lines.put_nowait(record)
        except queue.Full:
            return False
        return True

    def _dropped_record(self) -> logging.LogRecord:
        record = logging.LogRecord(
            __name__, logging.WARNING, __file__, 0,
            "%d log lines were dropped: their writer fell behind", (self.dropped,), None,
        )  # fmt: skip
        prepared: logging.LogRecord = self.prepare(record)
        return prepared


class _Writer(QueueListener):
    def enqueue_sentinel(self) -> None:
        # The queue may be full when the writer is told to stop: wait for room.
        self.queue.put(self._sentinel, timeout=_STOP_WAIT_S)  # type: ignore[attr-defined]


_STOP_WAIT_S = 5.0
_handoff: Handoff | None = None


def stop_background_logging() -> None:
    """Write the lines still waiting and stop the writer thread (at exit, or to reconfigure)."""
    global _handoff
    if _handoff is not None:
        _handoff.stop()
        _handoff = None


def configure_logging(
    level: str = "INFO",
    fmt: LogFormat = "auto",
    stream: TextIO | None = None,
    *,
    background: int = 0,
) -> None:
    """Route every logger (ours, uvicorn's, the libraries') through one formatted handler.

    ``auto`` writes text lines to a terminal and JSON lines to anything else (a file, a
    pipe, a log collector), so a person and a machine each get what they read. With
    ``background`` (a number of lines, for servers) lines are written by a thread, at most
    that many waiting (``Handoff``).
    """
    global _handoff
    stop_background_logging()
    writer = logging.StreamHandler(stream)
    if fmt == "auto":
        fmt = "text" if writer.stream.isatty() else "json"
    writer.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler: logging.Handler = writer
    if background:
        handler = _handoff = Handoff(writer, background)
        _handoff.listener.start()
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in _QUIET:
        logging.getLogger(noisy).setLevel(logging.WARNING)


atexit.register(stop_background_logging)
