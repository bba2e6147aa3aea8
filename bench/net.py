"""Ports, and the proof that a process reaches nothing but loopback.

Two independent witnesses:

- a Python audit hook installed before anything is imported (``AUDIT_WRAPPER``) logs
  every ``socket.connect``, ``sendto``/``sendmsg``, name lookup and ``http.client``
  connection the interpreter makes. uvloop (uvicorn's default loop) connects inside
  libuv, unseen by audit hooks, so the audited run blocks its import and uvicorn falls
  back to asyncio's loop: then nothing done from Python escapes the hook;
- ``SocketSampler`` reads the process's sockets from ``/proc`` every few milliseconds,
  which also sees sockets opened by native code (llama.cpp), but only those alive at a
  sample.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import socket
import subprocess
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", ""})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def is_loopback_host(host: object) -> bool:
    """Whether an address or host name stays on this machine (None or a path: local)."""
    if host is None or isinstance(host, bytes):
        return True  # getaddrinfo(None, …) is a local wildcard; bytes: an AF_UNIX path
    name = str(host).strip("[]").lower()
    if name in LOCAL_NAMES or name.startswith("/"):
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False  # a name that needs a resolver: not loopback by definition
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


# --- witness 1: the audit hook --------------------------------------------------------

# ``python -c AUDIT_HOOK+code LOG_FILE …`` logs the network events of ``code`` to LOG_FILE.
AUDIT_HOOK = r"""
import json, sys, threading, time
_out = open(sys.argv[1], "a", buffering=1, encoding="utf-8")
_lock = threading.Lock()
_NET = {"socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
        "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr",
        "socket.getnameinfo", "http.client.connect", "urllib.Request"}
def _hook(event, args):
    if event not in _NET:
        return
    try:
        if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
            sock, address = args[0], args[1]
            family = getattr(sock, "family", None)
            record = {"event": event, "family": int(family) if family is not None else None,
                      "address": address if isinstance(address, (tuple, str)) else repr(address)}
        elif event == "http.client.connect":
            record = {"event": event, "address": [args[1], args[2]]}
        elif event == "urllib.Request":
            record = {"event": event, "address": args[0]}
        else:
            record = {"event": event, "address": [a if isinstance(a, (str, int)) or a is None
                                                  else repr(a) for a in args[:2]]}
        record["t"] = time.time()
        record["thread"] = threading.current_thread().name
        with _lock:
            _out.write(json.dumps(record, default=repr) + "\n")
    except Exception as exc:
        _out.write(json.dumps({"event": "hook-error", "error": repr(exc)}) + "\n")
sys.addaudithook(_hook)
"""

# Run as ``python -c AUDIT_WRAPPER LOG_FILE nudge-args…``: installs the hook first, then
# hands over to ``nudge.cli.main.main`` exactly as ``python -m nudge.cli`` would.
AUDIT_WRAPPER = (
    AUDIT_HOOK
    + r"""
# uvloop connects and resolves in libuv, where no audit event fires: use asyncio's own
# loop, whose sockets are Python objects. Destinations are chosen by the same code.
sys.modules["uvloop"] = None
sys.argv = ["nudge", *sys.argv[2:]]
from nudge.cli.main import main
main()
"""
)

# The positive control: the same hook must report a connection attempt to TEST-NET-1.
AUDIT_CONTROL = (
    AUDIT_HOOK
    + r"""
import socket
try:
    socket.create_connection(("192.0.2.1", 9), timeout=0.05)
except OSError:
    pass
"""
)


def audit_control(python: str, log: Path) -> list[NetEvent]:
    """Run the positive control and return what the hook recorded."""
    log.touch()
    subprocess.run([python, "-c", AUDIT_CONTROL, str(log)], check=True, timeout=30)
    return read_audit_log(log)


@dataclass(frozen=True, slots=True)
class NetEvent:
    event: str
    host: object
    port: object
    t: float

    @property
    def loopback(self) -> bool:
        # A hook that failed to record an event counts against the proof, not for it.
        return self.event != "hook-error" and is_loopback_host(self.host)

    def __str__(self) -> str:
        return f"{self.event} {self.host}:{self.port}"


def read_audit_log(path: Path) -> list[NetEvent]:
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record: dict[str, Any] = json.loads(line)
        address = record.get("address")
        if isinstance(address, list | tuple) and address:
            host, port = address[0], address[1] if len(address) > 1 else None
        else:
            host, port = address, None  # an AF_UNIX path, or a URL for urllib.Request
            if isinstance(address, str) and "://" in address:
                host = address.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[0]
        events.append(NetEvent(str(record["event"]), host, port, float(record.get("t", 0.0))))
    return events


# --- witness 2: sampling /proc --------------------------------------------------------


def decode_proc_address(text: str) -> tuple[str, int]:
    """``0100007F:1F90`` (as in ``/proc/net/tcp``) → ``("127.0.0.1", 8080)``; IPv6 too."""
    hex_ip, hex_port = text.split(":")
    raw = bytes.fromhex(hex_ip)
    # The kernel prints each 32-bit word in host order (little-endian here).
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    if len(words) == 4:
        return str(ipaddress.IPv4Address(words)), int(hex_port, 16)
    return str(ipaddress.IPv6Address(words)), int(hex_port, 16)


def _socket_inodes(pids: Iterable[int]) -> set[str]:
    inodes = set()
    for pid in pids:
        fd_dir = Path(f"/proc/{pid}/fd")
        with contextlib.suppress(OSError):
            for fd in fd_dir.iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
    return inodes


def remote_endpoints(pid: int) -> set[tuple[str, str, int]]:
    """(protocol, remote address, remote port) of every inet socket the process holds."""
    inodes = _socket_inodes([pid])
    found = set()
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        with contextlib.suppress(OSError):
            lines = Path(f"/proc/{pid}/net/{proto}").read_text().splitlines()[1:]
            for line in lines:
                parts = line.split()
                if len(parts) > 9 and parts[9] in inodes:
                    host, port = decode_proc_address(parts[2])
                    if port != 0:  # 0: a listening or unconnected socket
                        found.add((proto, host, port))
    return found


class SocketSampler:
    """Record the remote endpoints of a process's sockets every ``interval_s``."""

    def __init__(self, pid: int, interval_s: float = 0.01) -> None:
        self._pid = pid
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="socket-sampler", daemon=True)
        self.seen: set[tuple[str, str, int]] = set()
        self.samples = 0

    def __enter__(self) -> SocketSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.seen |= remote_endpoints(self._pid)
            self.samples += 1
            self._stop.wait(self._interval_s)

    @property
    def non_loopback(self) -> list[tuple[str, str, int]]:
        return sorted(e for e in self.seen if not is_loopback_host(e[1]))
