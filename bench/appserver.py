"""Run a FastAPI app with uvicorn in a background thread of this process."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn


class UvicornThread:
    """uvicorn serving ``app`` on 127.0.0.1:``port`` from a thread with its own event loop."""

    def __init__(self, app: Any, port: int) -> None:
        # Idle connections outlive the slowest floor call between two requests on them, as
        # `nudge run` does (NUDGE_KEEPALIVE_S): a server closing a connection while the
        # client reuses it fails that request with a ReadError.
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            access_log=False,
            timeout_keep_alive=75,
        )
        self.server = uvicorn.Server(config)
        self.base_url = f"http://127.0.0.1:{port}"
        self._thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    def __enter__(self) -> UvicornThread:
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start (see the log above)")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=30)
