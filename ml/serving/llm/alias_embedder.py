"""The ``Embedder`` over the LiteLLM model list: each alias answered where its entry says.

``nudge-local/…`` entries run in process (the embedded default, all-MiniLM-L6-v2 in
numpy); any other entry goes to ``litellm.aembedding`` (production: Ollama). Swapping
one for the other stays a one-line change of ``model`` in the YAML file.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ml.serving.llm.embedder import Embeddings, EmbedRequest, is_local
from ml.serving.llm.litellm_client import _classify, _litellm
from ml.serving.llm.local_embedder import LocalSentenceModel, local_model_dir
from ml.serving.llm.model_list import LiteLLMParams, ModelList
from ml.serving.llm.port import LLMError


class AliasEmbedder:
    """``Embedder`` for the aliases of a ``ModelList``; one model loaded per local folder."""

    def __init__(self, models: ModelList, *, local_batch_size: int = 16) -> None:
        self._models = models
        self._batch_size = local_batch_size
        self._local: dict[Path | None, LocalSentenceModel] = {}

    def resolve(self, alias: str) -> str:
        return self._models.entry(alias).litellm_params.model

    def prepare(self) -> None:
        """Load the in-process models now (about 0.2 s); import LiteLLM if an embedding
        alias needs it. Raises ``LLMError`` when a local model is missing."""
        for entry in self._models.model_list:
            params = entry.litellm_params
            if is_local(params.model):
                self._local_model(entry.model_name, params).prepare()
            elif (entry.model_info.model_extra or {}).get("mode") == "embedding":
                _litellm()

    async def embed(self, req: EmbedRequest) -> Embeddings:
        params = self._models.entry(req.alias).litellm_params
        started = time.perf_counter()
        if is_local(params.model):
            model = self._local_model(req.alias, params)
            vectors = await model.aencode(req.texts, req.timeout_s)
        else:
            vectors = await _remote(params, req)
        latency_ms = (time.perf_counter() - started) * 1000
        return Embeddings(vectors, req.alias, params.model, latency_ms)

    def _local_model(self, alias: str, params: LiteLLMParams) -> LocalSentenceModel:
        folder = local_model_dir(alias, params)
        if folder not in self._local:
            self._local[folder] = LocalSentenceModel(folder, batch_size=self._batch_size)
        return self._local[folder]


async def _remote(params: LiteLLMParams, req: EmbedRequest) -> NDArray[np.float32]:
    if not req.texts:
        return np.zeros((0, 0), dtype=np.float32)
    kwargs: dict[str, Any] = params.call_kwargs()
    # Retries are the caller's, as for completions; the deadline is enforced around it.
    kwargs.update(input=list(req.texts), timeout=req.timeout_s, max_retries=0, num_retries=0)
    try:
        async with asyncio.timeout(req.timeout_s):
            raw = await _litellm().aembedding(**kwargs)
    except TimeoutError as exc:
        raise LLMError("timeout", f"no embeddings within {req.timeout_s:g}s") from exc
    except Exception as exc:  # LiteLLM raises many unrelated types
        raise _classify(exc) from exc
    return _vectors(raw, len(req.texts))


def _vectors(raw: Any, count: int) -> NDArray[np.float32]:
    """The rows of an OpenAI-shaped embedding answer, in input order, checked."""
    try:
        items = [(_field(d, "index"), _field(d, "embedding")) for d in raw.data]
        rows = [vector for _, vector in sorted(items, key=lambda item: int(item[0]))]
        vectors = np.asarray(rows, dtype=np.float32)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise LLMError("bad_response", f"no embeddings in the answer ({exc})") from exc
    if vectors.ndim != 2 or vectors.shape[0] != count or not np.isfinite(vectors).all():
        raise LLMError(
            "bad_response", f"expected {count} finite vectors, got shape {vectors.shape}"
        )
    return vectors


def _field(item: Any, name: str) -> Any:
    return item[name] if isinstance(item, dict) else getattr(item, name)
