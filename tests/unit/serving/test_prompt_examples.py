"""A prompt version's worked examples and answer shape: read from the file, checked, kept
through the registry's chat template and counted in the digest. Pure logic."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.serving.prompts.chat_template import from_chat, to_chat
from ml.serving.tip.prompt import PromptError, PromptTemplate
from ml.serving.tip.prompt_source import PromptSource

PREVIOUS = Path("ml/serving/prompts/previous/tip-orchestrator-v1.yaml")

BASE = """name: p
system: Write a tip.
user: |
  {% for s in snippets %}<snippet agent="{{ s.agent_id }}">{{ s.text }}</snippet>{% endfor %}
"""


def write(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(BASE + extra, encoding="utf-8")
    return path


def test_the_shipped_prompt_asks_for_the_tip_alone_after_examples() -> None:
    shipped = PromptTemplate.load()
    assert shipped.answer == "tip" and 1 <= len(shipped.examples) <= 6
    previous = PromptTemplate.load(PREVIOUS)
    assert previous.answer == "full" and previous.examples == ()
    assert shipped.digest != previous.digest


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ("answer: prose\n", "answer: one of full, tip"),
        ("examples: nope\n", "examples: a list"),
        ("examples:\n  - user: hi\n", "needs exactly `user`"),
        ("answer: tip\nexamples:\n  - {user: hi, answer: {tip: x, agents: [a]}}\n", "exactly: tip"),
        ("examples:\n  - {user: hi, answer: {tip: x}}\n", "a `full` answer has exactly"),
        ("answer: tip\nexamples:\n  - {user: '', answer: {tip: x}}\n", "user: required text"),
    ],
)
def test_bad_examples_are_refused_naming_the_field(tmp_path: Path, extra: str, why: str) -> None:
    with pytest.raises(PromptError, match=why.replace("`", ".")):
        PromptSource.read(write(tmp_path, extra))


def test_examples_survive_the_registry_and_change_the_digest(tmp_path: Path) -> None:
    plain = PromptTemplate.load(write(tmp_path, ""))
    shaped = PromptTemplate.load(
        write(tmp_path, "answer: tip\nexamples:\n  - {user: 'Now: morning', answer: {tip: Go.}}\n")
    )
    stored = to_chat(shaped)
    assert [m["role"] for m in stored] == ["system", "user", "assistant", "user"]
    back = from_chat("p", "7", stored, "tip")
    assert back.examples == shaped.examples and back.answer == "tip"
    assert back.digest == shaped.digest != plain.digest
    # A version without examples or shape keeps the digest it had before either existed.
    assert from_chat("p", "1", to_chat(plain)).digest == plain.digest


def test_a_chat_template_out_of_order_is_refused() -> None:
    broken = [
        {"role": "system", "content": "s"},
        {"role": "assistant", "content": "a"},
        {"role": "user", "content": "{{ snippets }}"},
    ]
    with pytest.raises(PromptError, match="lacks a system or user message"):
        from_chat("p", "3", broken)
