"""Parsing LiteLLM's model_list file: substitution, and errors that name file, line, field."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ml.serving.llm.litellm_client import LiteLLMClient
from ml.serving.llm.model_list import ModelListError, load_model_list
from ml.serving.llm.port import LLMError, LLMRequest, Message

REPO = Path(__file__).resolve().parents[3]
EMBEDDED = {"embedded_llm": "http://127.0.0.1:9999/v1"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "litellm.yaml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def test_embedded_config_fills_the_server_url_for_every_alias() -> None:
    models = load_model_list(REPO / "config" / "litellm.yaml", substitutions=EMBEDDED)

    assert models.aliases == ["tip-generator", "judge", "embedder"]
    for entry in models.model_list:
        if entry.model_name == "embedder":  # run in process, no server (ADR 0026)
            assert entry.litellm_params.model == "nudge-local/all-minilm-l6-v2"
            assert entry.model_info.near_repeat_cosine == 0.85
            continue
        assert entry.litellm_params.api_base == "http://127.0.0.1:9999/v1"
        assert entry.litellm_params.model.startswith("openai/")
        assert entry.litellm_params.api_key


def test_ollama_config_parses_and_keeps_extra_litellm_params() -> None:
    models = load_model_list(REPO / "config" / "litellm.ollama.yaml", substitutions={})

    tip = models.entry("tip-generator").litellm_params
    assert tip.model == "ollama_chat/qwen2.5:1.5b"
    assert tip.api_base == "http://ollama:11434"
    assert tip.call_kwargs()["keep_alive"] == "30m"


def test_placeholder_is_replaced_inside_longer_strings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        model_list:
          - model_name: judge
            litellm_params:
              model: openai/x
              api_base: "{embedded_llm}/"
              extra_headers: {X-Origin: "via {embedded_llm}"}
        """,
    )
    params = load_model_list(path, substitutions=EMBEDDED).entry("judge").litellm_params

    assert params.api_base == "http://127.0.0.1:9999/v1/"
    assert params.call_kwargs()["extra_headers"] == {"X-Origin": "via http://127.0.0.1:9999/v1"}


def test_placeholder_without_a_value_is_an_error_with_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        model_list:
          - model_name: judge
            litellm_params:
              model: openai/x
              api_base: "{embedded_llm}"
        """,
    )
    with pytest.raises(ModelListError) as info:
        load_model_list(path, substitutions={})

    message = str(info.value)
    assert f"{path}:5:" in message
    assert "model_list.0.litellm_params.api_base" in message
    assert "{embedded_llm}" in message


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        model_list:
          - model_name: judge
            litellm_params: [unclosed
        """,
    )
    with pytest.raises(ModelListError, match=rf"{path}:\d+: not valid YAML"):
        load_model_list(path, substitutions=EMBEDDED)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelListError, match="cannot read"):
        load_model_list(tmp_path / "nope.yaml", substitutions=EMBEDDED)


def test_every_invalid_entry_is_reported_with_field_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        model_list:
          - model_name: judge
            litellm_params:
              api_base: http://x
          - model_name: tip-generator
            litellm_params:
              model: openai/x
            typo_field: 1
        """,
    )
    with pytest.raises(ModelListError) as info:
        load_model_list(path, substitutions=EMBEDDED)

    lines = str(info.value).splitlines()
    assert any(f"{path}:3: model_list.0.litellm_params.model: Field required" in x for x in lines)
    assert any(f"{path}:8: model_list.1.typo_field" in line for line in lines)


def test_global_litellm_settings_are_refused_not_ignored(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        model_list:
          - model_name: judge
            litellm_params: {model: openai/x}
        litellm_settings:
          drop_params: true
        """,
    )
    with pytest.raises(ModelListError, match="litellm_settings"):
        load_model_list(path, substitutions=EMBEDDED)


def test_duplicate_alias_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        model_list:
          - {model_name: judge, litellm_params: {model: openai/a}}
          - {model_name: judge, litellm_params: {model: openai/b}}
        """,
    )
    with pytest.raises(ModelListError, match="'judge' appears twice"):
        load_model_list(path, substitutions=EMBEDDED)


def test_a_file_without_model_list_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelListError, match="model_list"):
        load_model_list(write(tmp_path, "- just a list\n"), substitutions=EMBEDDED)


async def test_unknown_alias_is_an_llm_error_everywhere() -> None:
    models = load_model_list(REPO / "config" / "litellm.yaml", substitutions=EMBEDDED)
    client = LiteLLMClient(models)
    request = LLMRequest(alias="poet", messages=[Message("user", "hi")], json_schema=None)

    with pytest.raises(LLMError) as resolved:
        client.resolve("poet")
    with pytest.raises(LLMError) as completed:
        await client.complete(request)
    with pytest.raises(LLMError) as checked:
        await client.health("poet")

    for info in (resolved, completed, checked):
        assert info.value.kind == "unknown_alias"
        assert "tip-generator" in str(info.value)  # the message lists the known aliases
    assert client.resolve("tip-generator") == "openai/smollm2-135m-instruct"


def test_importing_the_port_does_not_import_litellm() -> None:
    code = "import sys, ml.serving.llm.litellm_client; print('litellm' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "False"
