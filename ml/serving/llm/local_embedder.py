"""Sentence models Nudge runs in process: the ``nudge-local/`` entries of the model list.

The embedded default needs a semantic embedding without a model server: ``MiniLM``
(numpy, no torch) answers in a worker thread, one batch at a time.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ml.serving.llm.embedder import LOCAL_PROVIDER
from ml.serving.llm.minilm import MINILM_NAME, MiniLM, MiniLMError
from ml.serving.llm.model_list import LiteLLMParams
from ml.serving.llm.port import LLMError


class LocalSentenceModel:
    """One in-process sentence model, loaded once (on ``prepare`` or first use).

    Calls run one at a time: the model already uses every core through numpy's BLAS, and
    two at once would only share them, each slower. A call that times out is abandoned,
    not killed: the next one waits for it to finish.
    """

    def __init__(self, model_dir: Path | None = None, *, batch_size: int = 16) -> None:
        self._model_dir = model_dir
        self._batch_size = batch_size
        self._model: MiniLM | None = None
        self._lock = threading.Lock()
        self.load_s: float | None = None

    def prepare(self) -> None:
        """Load the model now; ``LLMError`` (kind ``unreachable``) says what is missing."""
        try:
            self._loaded()
        except MiniLMError as exc:
            raise LLMError("unreachable", str(exc)) from exc

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Blocking: one unit-length row per text."""
        model = self._loaded()
        with self._lock:
            return model.encode(texts, batch_size=self._batch_size)

    async def aencode(self, texts: Sequence[str], timeout_s: float) -> NDArray[np.float32]:
        """``encode`` in a worker thread, within ``timeout_s``; failures are ``LLMError``."""
        try:
            async with asyncio.timeout(timeout_s):
                return await asyncio.to_thread(self.encode, list(texts))
        except TimeoutError as exc:
            raise LLMError("timeout", f"no embeddings within {timeout_s:g}s") from exc
        except MiniLMError as exc:
            raise LLMError("unreachable", str(exc)) from exc
        except Exception as exc:  # a bug of the forward pass must not escape the port
            raise LLMError("error", f"{type(exc).__name__}: {exc}") from exc

    def _loaded(self) -> MiniLM:
        with self._lock:
            if self._model is None:
                started = time.perf_counter()
                self._model = MiniLM.load(self._model_dir)
                self.load_s = time.perf_counter() - started
            return self._model


def local_model_dir(alias: str, params: LiteLLMParams) -> Path | None:
    """The folder an entry's ``nudge-local/`` model loads from (None: the installed wheel).

    ``model_dir`` in ``litellm_params`` points at any sentence-transformers BERT folder
    with mean pooling; without it only the packaged all-MiniLM-L6-v2 is known.
    """
    name = params.model.removeprefix(f"{LOCAL_PROVIDER}/")
    extra = params.model_extra or {}
    model_dir = extra.get("model_dir")
    if model_dir is not None:
        if not isinstance(model_dir, str) or not model_dir:
            raise LLMError("error", f"{alias}: litellm_params.model_dir must be a folder path")
        return Path(model_dir)
    if name != MINILM_NAME:
        raise LLMError(
            "unknown_alias",
            f"{alias}: no in-process model {params.model!r}; use "
            f"{LOCAL_PROVIDER}/{MINILM_NAME} or set litellm_params.model_dir to its folder",
        )
    return None
