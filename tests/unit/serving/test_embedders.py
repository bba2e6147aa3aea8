"""The embedding port's pieces without a model: the safetensors reader, how an alias picks
in-process or LiteLLM, and the fake embedder unit tests of the tip pipeline use."""

from __future__ import annotations

import json
import struct
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ml.serving.llm.alias_embedder import AliasEmbedder
from ml.serving.llm.bert_encoder import BertConfig, BertWeightsError
from ml.serving.llm.embedder import Embedder, EmbedRequest, is_local
from ml.serving.llm.fake_embedder import FakeEmbedder
from ml.serving.llm.local_embedder import local_model_dir
from ml.serving.llm.model_list import ModelList, load_model_list
from ml.serving.llm.port import LLMError
from ml.serving.llm.safetensors_reader import SafetensorsError, read_safetensors

REPO = Path(__file__).resolve().parents[3]


def write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    blobs, offset = [], 0
    names = {np.dtype("<f4"): "F32", np.dtype("<i8"): "I64", np.dtype("<f2"): "F16"}
    for name, array in tensors.items():
        blob = np.ascontiguousarray(array).tobytes()
        header[name] = {
            "dtype": names[array.dtype],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def test_safetensors_round_trip(tmp_path: Path) -> None:
    tensors = {
        "w": np.arange(12, dtype="<f4").reshape(3, 4),
        "ids": np.array([[0, 1, 2]], dtype="<i8"),
        "half": np.array([1.5, -2.0], dtype="<f2"),
        "scalar": np.array(7.0, dtype="<f4"),
    }
    path = tmp_path / "model.safetensors"
    write_safetensors(path, tensors)

    read = read_safetensors(path)

    assert set(read) == set(tensors)
    for name, array in tensors.items():
        assert read[name].shape == array.shape
        assert read[name].dtype == array.dtype
        np.testing.assert_array_equal(read[name], array)
    assert not read["w"].flags.writeable  # a view of the read-only map


def test_safetensors_errors_name_the_file_and_the_tensor(tmp_path: Path) -> None:
    short = tmp_path / "short.safetensors"
    short.write_bytes(b"\x01\x00")
    with pytest.raises(SafetensorsError, match=r"short\.safetensors: too short"):
        read_safetensors(short)

    lying = tmp_path / "lying.safetensors"
    write_safetensors(lying, {"w": np.zeros((2, 2), dtype="<f4")})
    lying.write_bytes(lying.read_bytes()[:-4])  # the last float is cut off
    with pytest.raises(SafetensorsError, match=r"tensor 'w' spans bytes 0\.\.16"):
        read_safetensors(lying)

    with pytest.raises(SafetensorsError, match="cannot open"):
        read_safetensors(tmp_path / "missing.safetensors")


def test_bert_config_refuses_what_the_forward_pass_does_not_do() -> None:
    base = {"hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": 1}
    assert BertConfig.from_json(base).layer_norm_eps == 1e-12
    with pytest.raises(BertWeightsError, match="hidden_act"):
        BertConfig.from_json(base | {"hidden_act": "relu"})
    with pytest.raises(BertWeightsError, match="multiple"):
        BertConfig.from_json(base | {"num_attention_heads": 3})


def models(tmp_path: Path, body: str) -> ModelList:
    path = tmp_path / "litellm.yaml"
    path.write_text(textwrap.dedent(body).lstrip())
    return load_model_list(path, substitutions={})


def test_a_nudge_local_entry_picks_the_packaged_model_or_a_folder(tmp_path: Path) -> None:
    listed = models(
        tmp_path,
        """
        model_list:
          - model_name: embedder
            litellm_params: {model: nudge-local/all-minilm-l6-v2}
          - model_name: other
            litellm_params: {model: nudge-local/my-bert, model_dir: /models/my-bert}
          - model_name: unknown
            litellm_params: {model: nudge-local/e5-large}
        """,
    )
    assert local_model_dir("embedder", listed.entry("embedder").litellm_params) is None
    assert local_model_dir("other", listed.entry("other").litellm_params) == Path("/models/my-bert")
    with pytest.raises(LLMError, match="unknown: no in-process model") as raised:
        local_model_dir("unknown", listed.entry("unknown").litellm_params)
    assert raised.value.kind == "unknown_alias"


def test_production_embeds_with_the_embedded_defaults_model() -> None:
    """Ollama's all-minilm is all-MiniLM-L6-v2: the same near-repeat threshold holds."""
    ollama = load_model_list(REPO / "config" / "litellm.ollama.yaml", substitutions={})
    entry = ollama.entry("embedder")

    assert entry.litellm_params.model == "ollama/all-minilm"
    assert not is_local(entry.litellm_params.model)
    assert entry.model_info.near_repeat_cosine == 0.85
    assert (entry.model_info.model_extra or {}) == {"mode": "embedding"}


async def test_the_alias_embedder_resolves_and_refuses_unknown_aliases(tmp_path: Path) -> None:
    listed = models(
        tmp_path,
        """
        model_list:
          - model_name: embedder
            litellm_params: {model: ollama/all-minilm, api_base: "http://127.0.0.1:9"}
        """,
    )
    embedder = AliasEmbedder(listed)

    assert isinstance(embedder, Embedder)
    assert embedder.resolve("embedder") == "ollama/all-minilm"
    with pytest.raises(LLMError) as raised:
        await embedder.embed(EmbedRequest("judge", ["x"]))
    assert raised.value.kind == "unknown_alias"
    empty = await embedder.embed(EmbedRequest("embedder", []))  # no call for no text
    assert empty.vectors.shape == (0, 0)


async def test_a_missing_local_model_is_an_error_at_prepare(tmp_path: Path) -> None:
    listed = models(
        tmp_path,
        f"""
        model_list:
          - model_name: embedder
            litellm_params: {{model: nudge-local/mine, model_dir: "{tmp_path}"}}
        """,
    )
    embedder = AliasEmbedder(listed)

    with pytest.raises(LLMError, match=r"config\.json: cannot read") as raised:
        embedder.prepare()
    assert raised.value.kind == "unreachable"
    with pytest.raises(LLMError) as again:
        await embedder.embed(EmbedRequest("embedder", ["x"]))
    assert again.value.kind == "unreachable"


async def test_the_fake_embedder_gives_equal_texts_equal_vectors() -> None:
    fake = FakeEmbedder(dimensions=32)
    request = EmbedRequest("embedder", ["Water the plants", "water the PLANTS!", "Pay rent"])

    answer = await fake.embed(request)
    cosines = answer.vectors @ answer.vectors.T

    assert isinstance(fake, Embedder)
    assert answer.dimensions == 32
    assert fake.requests == [request]
    assert cosines[0, 1] == pytest.approx(1.0)
    assert cosines[0, 2] < 0.5
    np.testing.assert_allclose(np.linalg.norm(answer.vectors, axis=1), 1.0, rtol=1e-6)


async def test_the_fake_embedder_fails_as_told() -> None:
    fake = FakeEmbedder(fail=LLMError("timeout"), models={"embedder": "fake/minilm"})

    assert fake.resolve("embedder") == "fake/minilm"
    with pytest.raises(LLMError) as raised:
        await fake.embed(EmbedRequest("embedder", ["x"]))
    assert raised.value.kind == "timeout"
    with pytest.raises(LLMError, match="judge"):
        fake.resolve("judge")
