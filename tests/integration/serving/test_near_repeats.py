"""A model's tip that nearly repeats one of the user's recent tips is refused (the real
all-MiniLM-L6-v2 embedder), the next candidate is kept, and the similarity is recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ml.serving.llm.fake import FakeLLM
from ml.serving.llm.minilm import MiniLM
from nudge.bootstrap import bootstrap, build_app
from nudge.demo.seed import seed_demo
from nudge.runtime import Nudge
from tests.conftest import FixedClock, MakeSettings, gateway_headers

FIRST = "Send the Q3 invoice before lunch today."
PARAPHRASE = "Send off the Q3 invoice before your lunch today."
OTHER = "Review Marc's pull request before noon."


def tip(text: str) -> str:
    return json.dumps({"tip": text})


@pytest.fixture
def nudge(settings_for: MakeSettings, clock: FixedClock) -> Iterator[tuple[Nudge, FakeLLM]]:
    try:
        MiniLM.load(None)
    except Exception as exc:
        pytest.skip(f"all-MiniLM-L6-v2 is not installed ({exc}): make install")
    llm = FakeLLM()
    n = bootstrap(settings_for(near_repeat_check=True), clock=clock, llm=llm)
    seed_demo(n, clock())
    n.sweeper.sweep_all()
    yield n, llm
    n.stop()


def _fresh(client: TestClient, nudge: Nudge) -> dict[str, Any]:
    body: dict[str, Any] = client.get(
        "/v1/users/alice/tip", params={"refresh": "true", "wait": "30"}
    ).json()
    return {**body, "provenance": nudge.tips.get(body["tip_id"]).provenance}


def test_a_paraphrase_of_a_recent_tip_is_refused_and_another_candidate_kept(
    nudge: tuple[Nudge, FakeLLM],
) -> None:
    n, llm = nudge
    with TestClient(build_app(n, start=False), headers=gateway_headers(n)) as client:
        llm.push(tip(FIRST))
        first = _fresh(client, n)
        assert first["text"] == FIRST
        assert first["provenance"]["near_repeat"] is None  # nothing to compare with yet

        llm.push(tip(PARAPHRASE))  # the first answer, then four candidates
        llm.push(tip(PARAPHRASE), tip(FIRST), tip(OTHER), tip(OTHER))
        second = _fresh(client, n)

    assert second["text"] == OTHER and second["fallback"] is False
    record = second["provenance"]["near_repeat"]
    assert record["threshold"] == 0.85 and record["compared_with"] == 1
    assert record["closest_tip"] == first["tip_id"] and record["cosine"] < 0.85
    refused = record["refused"]
    assert len(refused) == 3 and all(r["closest_tip"] == first["tip_id"] for r in refused)
    assert all(r["cosine"] >= 0.85 for r in refused)
    candidates = second["provenance"]["candidates"]
    assert candidates["chosen"] == 3
    assert all("nearly repeats a recent tip" in r for r in candidates["refused"])


def test_when_every_answer_repeats_the_fallback_is_about_another_agent(
    nudge: tuple[Nudge, FakeLLM],
) -> None:
    n, llm = nudge
    with TestClient(build_app(n, start=False), headers=gateway_headers(n)) as client:
        llm.push(tip(FIRST))
        first = _fresh(client, n)
        llm.push(tip(FIRST))
        llm.push(*(tip(PARAPHRASE) for _ in range(4)))
        second = _fresh(client, n)

    assert second["fallback"] is True
    assert second["provenance"]["fallback_reason"] == "invalid_answer"
    assert len(second["provenance"]["near_repeat"]["refused"]) == 5
    assert second["agents"] and second["agents"][0] not in first["agents"]


def test_an_embedder_that_fails_turns_the_check_off_not_the_tip(
    settings_for: MakeSettings, clock: FixedClock, tmp_path: Any
) -> None:
    config = tmp_path / "litellm.yaml"
    config.write_text(
        """
model_list:
  - model_name: tip-generator
    litellm_params: {model: openai/x, api_base: "{embedded_llm}", api_key: k}
    model_info: {candidates: 4}
  - model_name: embedder
    litellm_params: {model: nudge-local/all-minilm-l6-v2, model_dir: /nonexistent}
    model_info: {mode: embedding, near_repeat_cosine: 0.85}
""".lstrip()
    )
    llm = FakeLLM()
    n = bootstrap(settings_for(near_repeat_check=True, litellm_config=config), clock=clock, llm=llm)
    seed_demo(n, clock())
    n.sweeper.sweep_all()
    try:
        with TestClient(build_app(n, start=False), headers=gateway_headers(n)) as client:
            llm.push(tip(FIRST))
            _fresh(client, n)
            llm.push(tip(FIRST))
            again = _fresh(client, n)
        assert again["text"] == FIRST and again["fallback"] is False
        assert again["provenance"]["near_repeat"] is None
    finally:
        n.stop()
