"""The embedded LLM in a child process (``python -m ml.serving.llm.embedded_server``), so
that a benchmark or a test can hang it, kill it and start it again on the same port."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

START_TIMEOUT_S = 60.0


class EmbeddedLLMProcess:
    """``python -m ml.serving.llm.embedded_server --port 0`` in a child process."""

    def __init__(self, proc: subprocess.Popen[str], base_url: str, log: Path) -> None:
        self.proc = proc
        self.base_url = base_url
        self.log = log

    @classmethod
    def start(cls, timeout: float = START_TIMEOUT_S, port: int = 0) -> EmbeddedLLMProcess:
        """Start a server (on a free port by default); return once ``/health`` answers ok."""
        fd, name = tempfile.mkstemp(prefix="embedded-llm-", suffix=".log")
        os.close(fd)
        log = Path(name)
        with log.open("w") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", "ml.serving.llm.embedded_server", "--port", str(port)],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        try:
            base_url = _read_ready_line(proc, time.monotonic() + timeout, log)
            _wait_healthy(base_url.removesuffix("/v1") + "/health", time.monotonic() + timeout)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        return cls(proc, base_url, log)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    @property
    def port(self) -> int:
        return int(self.base_url.removesuffix("/v1").rsplit(":", 1)[1])

    def pause(self) -> None:
        """Simulate a hang: SIGSTOP. The kernel still accepts connections; nothing answers."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """Simulate a crash: SIGKILL, no clean shutdown."""
        if self.alive:
            self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Ask for a clean shutdown (SIGTERM); kill if it does not exit in 10 s."""
        if self.alive:
            self.resume()  # a paused process cannot handle SIGTERM
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.log.unlink(missing_ok=True)


def _read_ready_line(proc: subprocess.Popen[str], deadline: float, log: Path) -> str:
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"embedded LLM exited with {proc.returncode}: {log.read_text()}")
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline().strip()
            if line.startswith("ready "):
                return line.split(" ", 1)[1]
    raise RuntimeError(f"embedded LLM did not report ready in time: {log.read_text()}")


def _wait_healthy(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2.0, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} never became healthy")
