"""Log lines: text a person reads on a terminal, JSON everywhere else."""

from __future__ import annotations

import io
import json
import logging
import os
import pty
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from nudge_infra.logs import configure_logging, request_id, stop_background_logging


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    stop_background_logging()
    root.handlers[:], root.level = handlers, level


def test_auto_writes_json_lines_to_a_pipe_or_file() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "auto", stream)
    logging.getLogger("nudge.access").info("GET %s", "/v1/tips", extra={"status": 200})
    logging.getLogger("nudge.access").info("Started", extra={"litellm_redacted": object()})
    entry, marked = map(json.loads, stream.getvalue().splitlines())
    assert entry["message"] == "GET /v1/tips" and entry["status"] == 200
    assert "litellm_redacted" not in marked  # a marker, nothing a reader could use
    assert entry["level"] == "info" and entry["logger"] == "nudge.access"


def test_auto_writes_readable_lines_to_a_terminal() -> None:
    stream = _Terminal()
    configure_logging("INFO", "auto", stream)
    token = request_id.set("r-1")
    try:
        logging.getLogger("nudge.access").info("GET /v1/tips 200", extra={"duration_ms": 3.5})
    finally:
        request_id.reset(token)
    line = stream.getvalue().strip()
    assert not line.startswith("{")
    assert "INFO" in line and "nudge.access: GET /v1/tips 200" in line
    assert line.endswith("[duration_ms=3.5 request=r-1]")


def test_json_and_text_are_forced_whatever_the_stream() -> None:
    terminal = _Terminal()
    configure_logging("INFO", "json", terminal)
    logging.getLogger("x").warning("w")
    assert json.loads(terminal.getvalue())["level"] == "warning"
    pipe = io.StringIO()
    configure_logging("INFO", "text", pipe)
    logging.getLogger("x").warning("w")
    assert "WARNING" in pipe.getvalue() and not pipe.getvalue().startswith("{")


def test_a_real_terminal_gets_text_lines() -> None:
    """Under a pseudo-terminal, as `make run` in a shell: the process's own isatty decides."""
    code = (
        "import logging; from nudge_infra.logs import configure_logging; "
        "configure_logging('INFO', 'auto'); logging.getLogger('nudge.demo').info('ready')"
    )
    leader, follower = pty.openpty()
    proc = subprocess.run(
        [sys.executable, "-c", code],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        timeout=60,
        check=False,
    )
    os.close(follower)
    shown = os.read(leader, 65536).decode()
    os.close(leader)
    assert proc.returncode == 0
    assert "INFO    nudge.demo: ready" in shown and '"message"' not in shown


class _Stalled(io.StringIO):
    """A log reader that stops reading until it is released."""

    def __init__(self) -> None:
        super().__init__()
        self.released = threading.Event()

    def write(self, s: str) -> int:
        assert self.released.wait(30), "the reader was never released"
        return super().write(s)


def test_a_reader_that_stops_reading_never_stops_the_logger_and_drops_are_counted() -> None:
    stream = _Stalled()
    configure_logging("INFO", "json", stream, background=3)
    log = logging.getLogger("nudge.access")
    token = request_id.set("r-7")
    try:
        for i in range(10):
            log.info("line %d", i)
    finally:
        request_id.reset(token)
    assert stream.getvalue() == ""  # every call returned while the writer was stuck

    stream.released.set()
    stop_background_logging()  # writes what waits, and how much was dropped
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    written = [e["message"] for e in entries if e["message"].startswith("line")]
    dropped = [e for e in entries if "dropped" in e["message"]]
    assert written == [f"line {i}" for i in range(len(written))]  # in order, oldest kept
    assert len(dropped) == 1 and dropped[0]["level"] == "warning"
    count = int(dropped[0]["message"].split()[0])
    assert len(written) + count == 10  # nothing lost without being counted
    assert entries[-1] == dropped[0]
    assert all(e["request_id"] == "r-7" for e in entries if e["message"].startswith("line"))
