"""A BERT encoder's forward pass in numpy: token ids in, last hidden states out.

Enough for small sentence-embedding models (all-MiniLM-L6-v2: 6 layers, 384 wide) on a
CPU without torch. Inference only: no dropout, absolute positions, one token type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]

# Abramowitz & Stegun 7.1.26: erf within 1.5e-7 (float32 rounding is 6e-8), since numpy
# has no erf and BERT's "gelu" is the exact one, not the tanh approximation.
_ERF_P = 0.3275911
_ERF_A = (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)


class BertWeightsError(ValueError):
    """The weights do not fit the config; the message names the tensor."""


@dataclass(frozen=True, slots=True)
class BertConfig:
    """The fields of a Hugging Face ``config.json`` the forward pass needs."""

    hidden_size: int
    num_heads: int
    num_layers: int
    layer_norm_eps: float
    max_positions: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BertConfig:
        if data.get("hidden_act", "gelu") != "gelu":
            raise BertWeightsError(f"hidden_act {data['hidden_act']!r} is not supported (gelu)")
        if data.get("position_embedding_type", "absolute") != "absolute":
            raise BertWeightsError("only absolute position embeddings are supported")
        config = cls(
            hidden_size=int(data["hidden_size"]),
            num_heads=int(data["num_attention_heads"]),
            num_layers=int(data["num_hidden_layers"]),
            layer_norm_eps=float(data.get("layer_norm_eps", 1e-12)),
            max_positions=int(data.get("max_position_embeddings", 512)),
        )
        if config.hidden_size % config.num_heads:
            raise BertWeightsError("hidden_size must be a multiple of num_attention_heads")
        return config


@dataclass(frozen=True, slots=True)
class _Layer:
    """One encoder layer's weights, each an (in × out) view of the memory-mapped file."""

    qkv_w: tuple[F32, F32, F32]  # query, key, value
    qkv_b: tuple[F32, F32, F32]
    attn_out_w: F32
    attn_out_b: F32
    attn_norm: tuple[F32, F32]
    ff_in_w: F32
    ff_in_b: F32
    ff_out_w: F32
    ff_out_b: F32
    ff_norm: tuple[F32, F32]


class BertEncoder:
    """The embeddings and encoder layers of a ``BertModel`` (its pooler is not used)."""

    def __init__(self, config: BertConfig, tensors: Mapping[str, NDArray[Any]]) -> None:
        self.config = config
        get = _getter(tensors)
        # Matrices stay views of the (memory-mapped) tensors: no copy, and their pages
        # are the file's, which the kernel can drop and share between processes.
        self._word = get("embeddings.word_embeddings.weight")
        self._position = get("embeddings.position_embeddings.weight")
        self._token_type = np.array(get("embeddings.token_type_embeddings.weight")[0])
        self._embed_norm = _norm(get, "embeddings.LayerNorm")
        self._layers = [_layer(get, f"encoder.layer.{i}") for i in range(config.num_layers)]
        if self._word.shape[1] != config.hidden_size or not self._layers:
            raise BertWeightsError("word embeddings do not match hidden_size, or no layers")
        self._inner_size = int(self._layers[0].ff_in_w.shape[1])

    @property
    def vocab_size(self) -> int:
        return int(self._word.shape[0])

    def __call__(self, ids: NDArray[np.int64], mask: NDArray[np.int64]) -> F32:
        """Last hidden states, shape (batch, tokens, hidden), for padded ``ids``; the rows
        of padding are zero."""
        batch, length = ids.shape
        if length > self.config.max_positions:
            raise ValueError(f"{length} tokens exceed {self.config.max_positions} positions")
        # Only attention needs the (batch, tokens) grid; every other step works on the real
        # tokens alone, packed as rows, so padding costs no matrix product.
        real = np.flatnonzero(mask.reshape(-1))
        work = _Workspace(self.config, batch, length, real, self._inner_size)
        x = work.out
        np.add(self._word[ids.reshape(-1)[real]], self._position[real % length], out=x)
        x += self._token_type
        _layer_norm(x, self._embed_norm, self.config.layer_norm_eps)
        # Padding gets a large negative score, so it takes no attention.
        bias = ((1.0 - mask[:, None, None, :].astype(np.float32)) * -1e9).astype(np.float32)
        for layer in self._layers:
            self._block(work, layer, bias)
        hidden = np.zeros((batch * length, self.config.hidden_size), dtype=np.float32)
        hidden[real] = work.out
        return hidden.reshape(batch, length, -1)

    def _block(self, work: _Workspace, layer: _Layer, bias: F32) -> None:
        """One encoder layer, from ``work.out`` back into it.

        Every product writes into the workspace: a fresh array of this size costs page
        faults that took longer than the arithmetic on this machine (ADR 0026).
        """
        heads, eps = self.config.num_heads, self.config.layer_norm_eps
        batch, length = bias.shape[0], bias.shape[-1]
        size = self.config.hidden_size // heads
        x, attended = work.out, work.attended
        for i in range(3):  # query, key, value
            np.matmul(x, layer.qkv_w[i], out=work.qkv[i])
            work.qkv[i] += layer.qkv_b[i]
        work.grid_qkv[:, work.real] = work.qkv  # padding rows stay zero
        q, k, v = work.grid_qkv.reshape(3, batch, length, heads, size).transpose(0, 1, 3, 2, 4)
        scores = np.matmul(q, k.transpose(0, 1, 3, 2), out=work.scores)
        scores *= np.float32(1.0 / np.sqrt(size))
        scores += bias
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        # (batch, heads, tokens, size) written as (batch, tokens, heads, size): rows again.
        grid = work.grid_context.reshape(batch, length, heads, size).swapaxes(1, 2)
        np.matmul(scores, v, out=grid)
        np.take(work.grid_context, work.real, axis=0, out=work.context)
        np.matmul(work.context, layer.attn_out_w, out=attended)
        attended += layer.attn_out_b
        attended += x
        _layer_norm(attended, layer.attn_norm, eps)
        np.matmul(attended, layer.ff_in_w, out=work.inner)
        work.inner += layer.ff_in_b
        _gelu(work.inner, work.z, work.t, work.erf)
        np.matmul(work.inner, layer.ff_out_w, out=x)
        x += layer.ff_out_b
        x += attended
        _layer_norm(x, layer.ff_norm, eps)


class _Workspace:
    """The buffers of one forward pass, reused by every layer: rows of real tokens, and
    the (batch × tokens) grid attention works on."""

    def __init__(
        self, config: BertConfig, batch: int, length: int, real: NDArray[np.intp], inner: int
    ) -> None:
        rows, hidden = len(real), config.hidden_size
        self.real = real
        self.out = np.empty((rows, hidden), dtype=np.float32)
        self.attended = np.empty((rows, hidden), dtype=np.float32)
        self.context = np.empty((rows, hidden), dtype=np.float32)
        self.qkv = np.empty((3, rows, hidden), dtype=np.float32)
        self.grid_qkv = np.zeros((3, batch * length, hidden), dtype=np.float32)
        self.grid_context = np.empty((batch * length, hidden), dtype=np.float32)
        self.scores = np.empty((batch, config.num_heads, length, length), dtype=np.float32)
        self.inner = np.empty((rows, inner), dtype=np.float32)
        self.z = np.empty((rows, inner), dtype=np.float32)
        self.t = np.empty((rows, inner), dtype=np.float32)
        self.erf = np.empty((rows, inner), dtype=np.float32)


def _getter(tensors: Mapping[str, NDArray[Any]]) -> Any:
    # Checkpoints saved from BertForX prefix every name with "bert."; BertModel does not.
    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in tensors else ""

    def get(name: str) -> F32:
        try:
            tensor = tensors[prefix + name]
        except KeyError:
            raise BertWeightsError(f"tensor {prefix + name!r} is missing") from None
        if tensor.dtype != np.float32:
            raise BertWeightsError(f"tensor {name!r} is {tensor.dtype}, expected float32")
        return tensor

    return get


def _norm(get: Any, name: str) -> tuple[F32, F32]:
    return get(f"{name}.weight"), get(f"{name}.bias")


def _linear(get: Any, name: str) -> tuple[F32, F32]:
    """A torch ``Linear`` (weight is out × in) as an in × out view and its bias; BLAS
    multiplies by the transposed view as fast as by a contiguous copy (measured)."""
    return get(f"{name}.weight").T, get(f"{name}.bias")


def _layer(get: Any, name: str) -> _Layer:
    q, k, v = (_linear(get, f"{name}.attention.self.{p}") for p in ("query", "key", "value"))
    attn_out = _linear(get, f"{name}.attention.output.dense")
    ff_in = _linear(get, f"{name}.intermediate.dense")
    ff_out = _linear(get, f"{name}.output.dense")
    return _Layer(
        qkv_w=(q[0], k[0], v[0]),
        qkv_b=(q[1], k[1], v[1]),
        attn_out_w=attn_out[0],
        attn_out_b=attn_out[1],
        attn_norm=_norm(get, f"{name}.attention.output.LayerNorm"),
        ff_in_w=ff_in[0],
        ff_in_b=ff_in[1],
        ff_out_w=ff_out[0],
        ff_out_b=ff_out[1],
        ff_norm=_norm(get, f"{name}.output.LayerNorm"),
    )


def _layer_norm(x: F32, norm: tuple[F32, F32], eps: float) -> None:
    """Normalise each row of ``x`` in place."""
    x -= x.mean(axis=-1, keepdims=True)
    variance = np.einsum("ij,ij->i", x, x)[:, None] / np.float32(x.shape[-1])
    x /= np.sqrt(variance + np.float32(eps))
    x *= norm[0]
    x += norm[1]


def _gelu(x: F32, z: F32, t: F32, erf: F32) -> None:
    """Exact GELU, x·Φ(x), of ``x`` in place (``z``, ``t``, ``erf``: scratch of its shape),
    with erf from its polynomial approximation."""
    np.abs(x, out=z)
    z *= np.float32(1.0 / np.sqrt(2.0))
    # erf(4) is 1 in float32; past it exp(-z²) would turn subnormal, which is slow.
    np.minimum(z, np.float32(4.0), out=z)
    np.multiply(z, np.float32(_ERF_P), out=t)
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    np.multiply(t, np.float32(_ERF_A[0]), out=erf)  # P(t) by Horner, then 1 - P(t)·t·exp(-z²)
    for a in _ERF_A[1:]:
        erf += np.float32(a)
        erf *= t
    np.multiply(z, z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    erf *= z
    np.subtract(np.float32(1.0), erf, out=erf)  # erf(|x| / √2)
    np.copysign(erf, x, out=erf)
    erf += np.float32(1.0)
    x *= np.float32(0.5)
    x *= erf
