"""The embedding port: texts in, one vector per text, for an alias such as ``embedder``.

Like ``LLMClient``, code names an alias of the LiteLLM ``model_list``, never a model; a
failure is an ``LLMError`` with a kind. An entry whose model is ``nudge-local/<name>``
is answered in process (see ``local_embedder``); any other goes through LiteLLM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

LOCAL_PROVIDER = "nudge-local"
"""The provider prefix of models Nudge runs itself, e.g. ``nudge-local/all-minilm-l6-v2``."""


def is_local(model: str) -> bool:
    """Whether ``model`` (a ``litellm_params.model``) is answered in process."""
    return model.startswith(f"{LOCAL_PROVIDER}/")


@dataclass(frozen=True, slots=True)
class EmbedRequest:
    """Texts to embed with one alias. ``timeout_s`` bounds the whole call."""

    alias: str
    texts: Sequence[str]
    timeout_s: float = 5.0


@dataclass(frozen=True, slots=True)
class Embeddings:
    """One row per requested text, in order, and where the vectors came from."""

    vectors: NDArray[np.float32]
    alias: str
    resolved_model: str
    latency_ms: float

    @property
    def dimensions(self) -> int:
        return int(self.vectors.shape[1])


@runtime_checkable
class Embedder(Protocol):
    async def embed(self, req: EmbedRequest) -> Embeddings: ...

    def resolve(self, alias: str) -> str:
        """The model name behind ``alias`` (for provenance)."""
        ...

    def prepare(self) -> None:
        """Load models or libraries now, at start, rather than on the first request."""
        ...
