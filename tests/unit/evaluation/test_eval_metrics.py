"""Aggregate metrics: rates with nothing to divide by, percentiles, judge parsing."""

from __future__ import annotations

import json

import pytest

from ml.evaluation.judge import judge_request, parse_judgment
from ml.evaluation.metrics import aggregate, invalid_kind, mean, rate
from ml.evaluation.results import ScenarioResult
from nudge_infra.percentiles import percentile


def test_rate_with_a_zero_denominator_is_none() -> None:
    assert rate(0, 0) is None
    assert rate(0, 4) == 0.0
    assert rate(3, 4) == 0.75
    assert mean([]) is None


def test_percentiles_interpolate_linearly() -> None:
    values = [40.0, 10.0, 30.0, 20.0]
    assert percentile(values, 50) == 25.0
    assert percentile(values, 0) == 10.0 and percentile(values, 100) == 40.0
    assert percentile(values, 95) == pytest.approx(38.5)
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError, match="outside"):
        percentile(values, 101)


def _result(scenario_id: str, **values: object) -> ScenarioResult:
    base: dict[str, object] = {"tip_id": f"tip-{scenario_id}", "eligible": ("tasks",)}
    base.update(values)
    return ScenarioResult(scenario_id, f"eval-{scenario_id}", **base)  # type: ignore[arg-type]


def test_aggregate_counts_each_metric_over_its_own_population() -> None:
    results = [
        _result(
            "a", grounded=True, met=4, expectations=4, latency_ms=100.0, judged=True, judge_score=5
        ),
        _result("b", grounded=False, met=1, expectations=2, latency_ms=300.0, judged=True),
        _result(
            "c",
            fallback=True,
            fallback_reason="invalid_answer",
            fallback_detail="cites agents that were not eligible: sleep",
            grounded=True,
            met=2,
            expectations=4,
            latency_ms=200.0,
            consent_violations=("sleep: cited",),
        ),
        _result(
            "d",
            eligible=(),
            fallback=True,
            fallback_reason="no_eligible_agents",
            met=3,
            expectations=3,
            latency_ms=1.0,
            context_violations=("x", "y"),
        ),
        ScenarioResult("e", "eval-e", expectations=5, error="RuntimeError: boom"),
    ]
    m = aggregate(results)
    assert m.scenarios == 5 and m.errors == 1
    assert m.valid_output_rate == pytest.approx(2 / 3)  # a, b of a, b, c; d had nothing
    assert m.grounding_rate == 0.5  # a of the LLM-written a, b; c's fallback is not counted
    assert m.expectation_hit_rate == pytest.approx((1 + 0.5 + 0.5 + 1 + 0) / 5)
    assert (m.consent_violations, m.context_violations) == (1, 2)
    assert m.fallback_rate == 0.5  # c, d of the four served
    assert m.latency_p50_ms == 150.0
    assert m.judge_score == 5.0 and m.judge_coverage == 0.5
    assert m.fallback_reasons == {"invalid_answer": 1, "no_eligible_agents": 1}
    assert m.invalid_answers == {"cites_agents_that_were_not_eligible": 1}
    assert "judge_score" in m.numbers() and "fallback_reasons" not in m.numbers()


@pytest.mark.parametrize(
    ("detail", "kind"),
    [
        ("not JSON: Expecting ',' delimiter: line 3 column 21 (char 94)", "not_json"),
        (
            "bad_response: answer is not JSON (finish_reason=length; raise max_tokens)",
            "answer_is_not_json",
        ),
        ("tip must be 10-140 characters", "tip_must_be_10_140_characters"),
        (
            "tip shares no content word with the snippets it cites",
            "tip_shares_no_content_word_with_the_snippets_it_cites",
        ),
        ("", "unknown"),
    ],
)
def test_invalid_answers_are_grouped_by_kind_without_particulars(detail: str, kind: str) -> None:
    assert invalid_kind(detail) == kind


def test_aggregate_of_nothing_has_no_rates() -> None:
    m = aggregate([])
    assert m.scenarios == 0
    assert m.valid_output_rate is m.grounding_rate is m.expectation_hit_rate is None
    assert m.latency_p50_ms is m.judge_score is m.judge_coverage is None
    assert m.numbers() == {
        "scenarios": 0.0,
        "consent_violations": 0.0,
        "context_violations": 0.0,
        "errors": 0.0,
    }


def test_a_judgment_is_an_integer_from_1_to_5_and_a_reason() -> None:
    judgment = parse_judgment('{"score": 3, "reason": "  Fine,\\n but vague. "}')
    assert (judgment.score, judgment.reason) == (3, "Fine, but vague.")
    for bad in (
        '{"score": 6, "reason": "x"}',
        '{"score": true, "reason": "x"}',
        '{"score": "4", "reason": "x"}',
        '{"score": 4}',
        "[4]",
        "not json",
    ):
        with pytest.raises(ValueError):
            parse_judgment(bad)


def test_the_judge_request_is_deterministic_and_fits_its_token_budget() -> None:
    request = judge_request(alias="judge", tip='Say "hi".', prompt="P", max_tokens=48, timeout_s=5)
    assert request.temperature == 0.0 and request.alias == "judge"
    assert request.json_schema is not None
    schema = json.loads(json.dumps(request.json_schema))
    assert schema["properties"]["score"] == {"type": "integer", "minimum": 1, "maximum": 5}
    assert schema["properties"]["reason"]["maxLength"] == 96
    assert 'The tip shown to the user: "Say \\"hi\\"."' in request.messages[-1].content
