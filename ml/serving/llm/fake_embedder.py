"""An ``Embedder`` for unit tests: hashed bags of words, no model, remembers every request.

Texts with the same words get the same vector (cosine 1.0); texts that share words are
closer than texts that share none. Not semantic: paraphrases with other words are far.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

import numpy as np

from ml.serving.llm.embedder import Embeddings, EmbedRequest
from ml.serving.llm.port import LLMError

_WORD = re.compile(r"\w+")


class FakeEmbedder:
    """Deterministic bag-of-words vectors; ``fail`` makes every call raise it."""

    def __init__(
        self,
        *,
        dimensions: int = 64,
        models: Mapping[str, str] | None = None,
        fail: LLMError | None = None,
    ) -> None:
        self.dimensions = dimensions
        self._models = dict(models) if models is not None else None
        self.fail = fail
        self.requests: list[EmbedRequest] = []

    def resolve(self, alias: str) -> str:
        if self._models is None:
            return f"fake/{alias}"
        if alias not in self._models:
            raise LLMError("unknown_alias", f"no model_name {alias!r} in the fake's models")
        return self._models[alias]

    def prepare(self) -> None:
        return None

    async def embed(self, req: EmbedRequest) -> Embeddings:
        self.requests.append(req)
        resolved = self.resolve(req.alias)
        if self.fail is not None:
            raise self.fail
        vectors = np.zeros((len(req.texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(req.texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
                vectors[row, int.from_bytes(digest, "little") % self.dimensions] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors /= np.maximum(norms, 1e-12)
        return Embeddings(vectors, req.alias, resolved, 0.0)
