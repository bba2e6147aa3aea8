"""A second model alias as LiteLLM fallback (``router_settings.fallbacks``): asked when the
first is down, never when it answered; a file naming an unknown alias is refused."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ml.serving.llm.litellm_client import LiteLLMClient
from ml.serving.llm.model_list import ModelListError, load_model_list
from ml.serving.llm.port import LLMError, LLMRequest, Message

pytest_plugins = ["tests.llm_fixtures"]

NOTHING_LISTENS = "http://127.0.0.1:9/v1"

CONFIG = """
model_list:
  - model_name: tip-generator
    litellm_params: {model: openai/primary-model, api_base: "{primary}", api_key: k}
  - model_name: tip-generator-backup
    litellm_params: {model: openai/backup-model, api_base: "{backup}", api_key: k}
router_settings:
  fallbacks:
    - tip-generator: [tip-generator-backup]
"""


def _client(tmp_path: Path, primary: str, backup: str) -> LiteLLMClient:
    path = tmp_path / "litellm.yaml"
    path.write_text(CONFIG.lstrip())
    models = load_model_list(path, substitutions={"primary": primary, "backup": backup})
    return LiteLLMClient(models)


def _ask(alias: str = "tip-generator") -> LLMRequest:
    return LLMRequest(
        alias=alias,
        messages=[Message("user", "Say hello in one word.")],
        json_schema=None,
        max_tokens=8,
        timeout_s=20,
        retries=0,
    )


@pytest.mark.llm
async def test_a_dead_primary_is_answered_by_the_backup_alias(
    tmp_path: Path, embedded_llm_url: str
) -> None:
    client = _client(tmp_path, NOTHING_LISTENS, embedded_llm_url)
    response = await client.complete(_ask())
    assert response.content.strip()
    assert response.alias == "tip-generator"
    assert response.resolved_model == "openai/backup-model"  # recorded in the provenance


@pytest.mark.llm
async def test_a_live_primary_is_never_replaced(tmp_path: Path, embedded_llm_url: str) -> None:
    client = _client(tmp_path, embedded_llm_url, NOTHING_LISTENS)
    response = await client.complete(_ask())
    assert response.resolved_model == "openai/primary-model"


async def test_both_down_raises_the_primarys_error(tmp_path: Path) -> None:
    client = _client(tmp_path, NOTHING_LISTENS, NOTHING_LISTENS)
    with pytest.raises(LLMError) as raised:
        await client.complete(_ask())
    assert raised.value.kind == "unreachable"


async def test_the_backup_alias_has_no_fallback_of_its_own(tmp_path: Path) -> None:
    client = _client(tmp_path, NOTHING_LISTENS, NOTHING_LISTENS)
    with pytest.raises(LLMError) as raised:
        await client.complete(_ask("tip-generator-backup"))
    assert raised.value.kind == "unreachable"


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("- tip-generator: [nope]", "'nope': not a model_name of this file"),
        ("- tip-generator: [tip-generator]", "falls back to itself"),
        ("- typo: [tip-generator]", "'typo': not a model_name"),
    ],
)
def test_fallbacks_must_name_aliases_of_the_file(tmp_path: Path, rules: str, message: str) -> None:
    path = tmp_path / "litellm.yaml"
    text = """
        model_list:
          - model_name: tip-generator
            litellm_params: {model: openai/x}
        router_settings:
          fallbacks:
            RULES
        """
    path.write_text(textwrap.dedent(text).replace("RULES", rules).lstrip())
    with pytest.raises(ModelListError, match=message) as raised:
        load_model_list(path, substitutions={})
    assert str(raised.value).startswith(f"{path}:")


def test_other_router_settings_are_refused_not_ignored(tmp_path: Path) -> None:
    path = tmp_path / "litellm.yaml"
    text = """
        model_list:
          - model_name: tip-generator
            litellm_params: {model: openai/x}
        router_settings:
          routing_strategy: latency-based-routing
        """
    path.write_text(textwrap.dedent(text).lstrip())
    with pytest.raises(ModelListError, match=r"router_settings\.routing_strategy"):
        load_model_list(path, substitutions={})
