"""The shipped prompt on a real database with a scripted LLM: it asks for the tip alone
after worked examples, cites what the tip names, and asks for several answers in one call
when the first is refused (ADR 0023)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from ml.serving.tip.prompt import PromptTemplate
from tests.conftest import FixedClock, MakeSettings
from tests.integration.serving.tip_env import Env, open_env


@pytest.fixture
def shipped(settings_for: MakeSettings, clock: FixedClock) -> Iterator[Env]:
    """The default prompt and the default aliases file (best-of-4 on tip-generator)."""
    with open_env(settings_for(), clock) as opened:
        yield opened


def tip(text: str) -> str:
    return json.dumps({"tip": text})


def provenance(env: Env, tip_id: str) -> dict[str, object]:
    body: dict[str, object] = env.client.get(f"/v1/tips/{tip_id}/explain").json()["provenance"]
    return body


def test_the_model_is_shown_worked_examples_and_asked_for_one_sentence(shipped: Env) -> None:
    shipped.llm.push(tip("Send the Q3 invoice before lunch today."))
    body = shipped.client.get("/v1/users/alice/tip").json()
    assert body["fallback"] is False and body["text"] == "Send the Q3 invoice before lunch today."

    request = shipped.llm.requests[-1]
    template = PromptTemplate.load()
    roles = [m.role for m in request.messages]
    assert roles == ["system"] + ["user", "assistant"] * len(template.examples) + ["user"]
    assert [m.content for m in request.messages[1:-1:2]] == [e.user for e in template.examples]
    assert '"Send the Q3 invoice"' in request.messages[-1].content  # alice's own snippet
    schema = request.json_schema or {}
    assert set(schema["properties"]) == {"tip"}
    # One sentence that names one of the snippets' facts as written (ADR 0023).
    pattern = schema["properties"]["tip"]["pattern"]
    assert "|[Ss]end the Q3 invoice|" in pattern and "|10:00|" in pattern
    assert request.n == 1 and re.fullmatch(pattern, body["text"])
    assert re.fullmatch(pattern, "Remember to send the Q3 invoice before lunch.")
    assert re.fullmatch(pattern, "10:00 is when the design review starts.")
    assert not re.fullmatch(pattern, "Take some time for yourself today.")  # names no fact
    assert not re.fullmatch(pattern, "Send the Q3 invoice. Then book a train.")  # two sentences

    prov = provenance(shipped, body["tip_id"])
    # Cited by the fact its words name; the reason is the agent's own.
    assert body["agents"] == ["tasks"] and prov["cited_by_model"] == []
    because = prov["cited"][0]["because"]  # type: ignore[index]
    assert body["rationale"] == f"Because {because}."
    assert prov["candidates"] == {"asked": 1, "chosen": 0, "refused": []}


def test_a_refused_answer_is_followed_by_several_in_one_call(shipped: Env) -> None:
    shipped.llm.push(
        tip("Call your mother about the holidays."),  # grounded in nothing: refused
        tip("Do it now, do it now, do it now, do it now."),
        tip("Review Marc's pull request before noon."),
        tip("Send the Q3 invoice first."),
        tip("Water the garden."),
    )
    body = shipped.client.get("/v1/users/alice/tip").json()
    assert body["fallback"] is False and body["text"] == "Review Marc's pull request before noon."

    first, second = shipped.llm.requests[-2:]
    assert second.n == 4 and second.temperature == 0.7 and second.seed is not None
    assert second.messages == first.messages and second.json_schema == first.json_schema
    prov = provenance(shipped, body["tip_id"])
    record = prov["candidates"]
    assert record["asked"] == 3 and record["chosen"] == 2  # type: ignore[index]
    assert len(record["refused"]) == 2 and "names no fact" in record["refused"][0]  # type: ignore[index]
    assert shipped.llm.pending == 0  # the call took all four answers


def test_when_every_answer_is_refused_the_tip_is_the_fallback(shipped: Env) -> None:
    shipped.llm.push(*[tip("Call your mother about the holidays.")] * 5)
    body = shipped.client.get("/v1/users/alice/tip").json()
    prov = provenance(shipped, body["tip_id"])
    assert body["fallback"] is True and prov["fallback_reason"] == "invalid_answer"
    assert prov["candidates"] == {  # type: ignore[comparison-overlap]
        "asked": 5,
        "chosen": None,
        "refused": [prov["llm_error"]] * 5,
    }
    assert len(shipped.llm.requests) == 2
