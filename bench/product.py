"""A real ``nudge run`` child process: start it, time it, ask it for tips, read its memory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.net import free_port
from nudge.credentials import GATEWAY_FILE
from nudge.settings import REPO_ROOT

START_TIMEOUT_S = 180.0
UNLIMITED = "1000000/minute"


@dataclass
class Timed:
    seconds: float
    body: dict[str, Any]


@dataclass
class ProductProcess:
    """``python -m nudge.cli run`` (or ``argv``) with its own data dir and free ports."""

    proc: subprocess.Popen[str]
    started: float
    base_url: str
    log: Path
    data_dir: Path
    lines: list[tuple[float, str]] = field(default_factory=list)
    _reader: threading.Thread | None = None

    @classmethod
    def spawn(cls, data_dir: Path, argv: Sequence[str] | None = None) -> ProductProcess:
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")},
            "NUDGE_DATA_DIR": str(data_dir),
            "NUDGE_PORT": str(port),
            "NUDGE_EMBEDDED_LLM_PORT": str(free_port()),
            "PYTHONUNBUFFERED": "1",
            "NUDGE_TIP_RATE_LIMIT": UNLIMITED,  # timed tips, not the limiter
            "COLUMNS": "120",
        }
        command = list(argv) if argv is not None else [sys.executable, "-m", "nudge.cli", "run"]
        log = data_dir / "process.log"
        started = time.perf_counter()
        proc = subprocess.Popen(
            command,
            env=env,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        product = cls(proc, started, f"http://127.0.0.1:{port}", log, data_dir)
        product._reader = threading.Thread(target=product._read, name="product-log", daemon=True)
        product._reader.start()
        return product

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.log.open("w", encoding="utf-8") as out:
            for line in self.proc.stdout:
                self.lines.append((time.perf_counter() - self.started, line.rstrip()))
                out.write(line)

    @property
    def headers(self) -> dict[str, str]:
        """The gateway credential ``nudge run`` generated under its data dir."""
        token = (self.data_dir / GATEWAY_FILE).read_text(encoding="utf-8").strip()
        return {"Authorization": f"Bearer {token}"}

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self) -> dict[str, float]:
        """Poll until ``/readyz`` answers 200; return seconds since spawn of each milestone."""
        milestones: dict[str, float] = {}
        deadline = time.perf_counter() + START_TIMEOUT_S
        with httpx.Client(base_url=self.base_url, timeout=5, trust_env=False) as client:
            while True:
                try:
                    if "healthz" not in milestones and client.get("/healthz").status_code == 200:
                        milestones["healthz"] = time.perf_counter() - self.started
                    if client.get("/readyz").status_code == 200:
                        milestones["readyz"] = time.perf_counter() - self.started
                        return milestones
                except httpx.HTTPError:
                    pass
                if self.proc.poll() is not None or time.perf_counter() > deadline:
                    raise RuntimeError(f"nudge run did not become ready:\n{self.tail()}")
                time.sleep(0.02)

    def first_line(self, needle: str) -> float | None:
        """Seconds since spawn at which the process first printed ``needle``."""
        return next((t for t, line in list(self.lines) if needle in line), None)

    def tail(self, n: int = 30) -> str:
        return "\n".join(line for _, line in self.lines[-n:])

    def tip(
        self, client: httpx.Client, user: str, *, refresh: bool, wait: float | None = None
    ) -> Timed:
        """``wait``: how long the endpoint may wait for a tip being written (``?wait=``)."""
        params = {"refresh": "true"} if refresh else {}
        if wait is not None:
            params["wait"] = str(wait)
        started = time.perf_counter()
        response = client.get(f"/v1/users/{user}/tip", params=params)
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        return Timed(elapsed, response.json())

    def memory(self) -> dict[str, Any]:
        """VmHWM (peak RSS) and VmRSS of the process, and of each child process if any."""
        found: dict[str, Any] = {"pid": self.pid, **read_status(self.pid), "children": []}
        for child in _children(self.pid):
            found["children"].append({"pid": child, **read_status(child)})
        found["total_hwm_kib"] = found["VmHWM"] + sum(c["VmHWM"] for c in found["children"])
        return found

    def stop(self) -> int | None:
        """SIGINT (what Ctrl-C sends), then SIGKILL after 20 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
        return self.proc.returncode


def read_status(pid: int) -> dict[str, int]:
    values = {"VmHWM": 0, "VmRSS": 0}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return values
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in values:
            values[key] = int(rest.split()[0])  # kB
    return values


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            ids = [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            continue
        for child in ids:
            found += [child, *_children(child)]
    return found
