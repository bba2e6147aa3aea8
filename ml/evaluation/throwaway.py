"""Settings for a run on a throw-away database: evaluations and simulations."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from nudge.settings import Settings


def throwaway_settings(settings: Settings, data_dir: Path) -> Settings:
    """The same settings on an empty SQLite database under ``data_dir``, nothing scheduled,
    no bus, no experiments, and the embedded LLM (if any) on a free port."""
    updates: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": None,
        "nats_url": None,
        "watch_manifests": False,
        "scheduler": False,
        "experiments_file": None,
        "prompt_registry": "file",  # the harness passes the prompt under test itself
    }
    if settings.embedded_llm:
        updates["embedded_llm_port"] = free_port()  # a running `nudge run` holds the default
    known = type(settings).model_fields
    return settings.model_copy(update={k: v for k, v in updates.items() if k in known})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
