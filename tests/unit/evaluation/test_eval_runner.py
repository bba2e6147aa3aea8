"""The harness and the command on a real SQLite Nudge, with a scripted LLM.

The model is not the point here: the scripted client answers every tip request with the
first sentence of the first eligible snippet, so the checks around it are what is tested.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from ml.evaluation.command import evaluate
from ml.evaluation.dataset import Scenario, load_scenarios
from ml.evaluation.harness import run_eval
from ml.evaluation.scenario_clock import SettableClock
from ml.serving.llm.port import LLMError, LLMRequest, LLMResponse
from ml.serving.tip.prompt import PromptError, PromptTemplate
from nudge.bootstrap import bootstrap
from nudge.runtime import Nudge
from tests.conftest import MakeSettings

_BLOCK = re.compile(r'<snippet agent="([^"]+)">\s*(.*?)\s*</snippet>', re.S)
GOOD_JUDGMENT = '{"score": 4, "reason": "Concrete and timely."}'


class ScriptedLLM:
    """An ``LLMClient`` whose tips restate the top snippet and whose judge says 4."""

    def __init__(self, *, judgment: str | LLMError = GOOD_JUDGMENT) -> None:
        self.judgment = judgment
        self.requests: list[LLMRequest] = []

    async def complete(self, req: LLMRequest) -> LLMResponse:
        self.requests.append(req)
        self.resolve(req.alias)
        if req.schema_name == "judgment":
            if isinstance(self.judgment, LLMError):
                raise self.judgment
            content = self.judgment
        elif req.json_schema is None:
            content = "Ready."  # the warm-up
        else:
            agent, text = _BLOCK.findall(req.messages[-1].content)[0]
            title = re.search(r'"([^"]+)"', text)
            tip = f"Start with {title[0]} now." if title else f"Note: {text.split('. ')[0][:110]}"
            content = json.dumps({"tip": tip, "agents": [agent], "rationale": "Most urgent."})
        return LLMResponse(content, req.alias, f"fake/{req.alias}", 100, 20, 5.0, 1)

    def resolve(self, alias: str) -> str:
        if alias not in ("tip-generator", "judge"):
            raise LLMError("unknown_alias", f"no model_name {alias!r}")
        return f"fake/{alias}"

    async def health(self, alias: str) -> bool:
        return True

    def prepare(self) -> None:
        return None


def _pick(*ids: str) -> list[Scenario]:
    by_id = {s.id: s for s in load_scenarios()}
    return [by_id[i] for i in ids]


@pytest.fixture
def nudge(sqlite_settings: MakeSettings) -> Iterator[Nudge]:
    n = bootstrap(sqlite_settings(), clock=SettableClock(), llm=ScriptedLLM())
    yield n
    n.stop()


async def test_a_run_checks_every_scenario_and_finds_no_leak(nudge: Nudge) -> None:
    scenarios = _pick(
        "paris-overdue-invoice",  # one eligible agent, cited
        "newyork-vacation-silences-work",  # context silences three agents
        "tokyo-no-consent-feedback-only",  # no consent at all
        "chicago-no-consents-none-eligible",  # nothing eligible: no LLM call
    )
    seen: list[str] = []
    run = await run_eval(
        nudge,
        scenarios,
        prompt=PromptTemplate.load(),
        alias="tip-generator",
        progress=lambda r: seen.append(r.scenario_id),
    )
    assert seen == [s.id for s in scenarios]
    by_id = {r.scenario_id: r for r in run.results}

    invoice = by_id["paris-overdue-invoice"]
    assert invoice.error is None and not invoice.fallback
    assert invoice.cited == ("tasks",) and invoice.grounded is True
    assert invoice.met == invoice.expectations, invoice.missed
    assert invoice.judge_score == 4 and invoice.latency_ms is not None

    vacation = by_id["newyork-vacation-silences-work"]
    assert vacation.cited == ("habits",)
    assert not set(vacation.eligible) & {"tasks", "calendar", "focus"}

    nothing = by_id["chicago-no-consents-none-eligible"]
    assert nothing.fallback_reason == "no_eligible_agents" and not nothing.judged

    m = run.metrics
    assert m.scenarios == 4 and m.errors == 0
    assert m.consent_violations == 0 and m.context_violations == 0
    assert m.valid_output_rate == 1.0 and m.grounding_rate == 1.0
    assert m.fallback_rate == 0.25  # only the user with nothing eligible
    assert m.judge_score == 4.0 and m.judge_coverage == 1.0
    assert run.params.resolved_model == "fake/tip-generator"
    assert run.params.prompt_version == PromptTemplate.load().version
    assert nudge.tips.get(invoice.tip_id or "").provenance["cited"][0]["agent_id"] == "tasks"


async def test_the_prompt_check_sees_what_reached_the_model(nudge: Nudge) -> None:
    """A prompt template that writes an excluded agent's data in is caught as a leak."""
    shipped = PromptTemplate.load()
    leaky = PromptTemplate.parse(
        name=shipped.name,
        version="leaky",
        system=shipped.system,
        user=shipped.source + '\nAlso: "File the expense report".',
    )
    run = await run_eval(
        nudge, _pick("newyork-vacation-silences-work"), prompt=leaky, alias="tip-generator"
    )
    (result,) = run.results
    assert result.context_violations == ('tasks: "File the expense report" reached the prompt',)
    assert run.metrics.context_violations == 1 and run.metrics.consent_violations == 0


async def test_a_failing_judge_gives_no_score_and_no_exception(
    sqlite_settings: MakeSettings,
) -> None:
    llm = ScriptedLLM(judgment=LLMError("timeout", "no answer"))
    n = bootstrap(sqlite_settings(), clock=SettableClock(), llm=llm)
    try:
        run = await run_eval(
            n, _pick("paris-overdue-invoice"), prompt=PromptTemplate.load(), alias="tip-generator"
        )
    finally:
        n.stop()
    (result,) = run.results
    assert result.judged and result.judge_score is None
    assert result.judge_reason is not None and "timeout" in result.judge_reason
    assert run.metrics.judge_score is None and run.metrics.judge_coverage == 0.0


async def test_judge_limit_and_judge_off(nudge: Nudge) -> None:
    scenarios = _pick("paris-overdue-invoice", "newyork-due-today-deadline")
    prompt = PromptTemplate.load()
    limited = await run_eval(nudge, scenarios, prompt=prompt, alias="tip-generator", judge_limit=1)
    assert [r.judged for r in limited.results] == [True, False]
    off = await run_eval(nudge, scenarios, prompt=prompt, alias="tip-generator", judge=False)
    assert not any(r.judged for r in off.results)
    assert off.metrics.judge_coverage is None and off.params.judge_alias is None


async def test_the_clock_must_be_settable(sqlite_settings: MakeSettings) -> None:
    n = bootstrap(sqlite_settings(), llm=ScriptedLLM())
    try:
        with pytest.raises(TypeError, match="SettableClock"):
            await run_eval(n, [], prompt=PromptTemplate.load(), alias="tip-generator")
    finally:
        n.stop()


# --- the command -------------------------------------------------------------------------


def _shipped(ref: str | None) -> PromptTemplate:
    if ref not in (None, "1"):
        raise PromptError(f"prompt 'tip-orchestrator' has no version {ref}")
    return PromptTemplate.load()


def _run_command(
    sqlite_settings: MakeSettings, tmp_path: Path, **overrides: object
) -> tuple[int, str]:
    console = Console(record=True, width=200, force_terminal=False)
    options: dict[str, object] = {
        "prompt_version": None,
        "model": None,
        "limit": 2,
        "compare": None,
        "judge": True,
    }
    options.update(overrides)
    settings = sqlite_settings(mlflow_tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    code = evaluate(
        settings,
        console=console,
        load_prompt=_shipped,
        llm=ScriptedLLM(),
        **options,  # type: ignore[arg-type]
    )
    return code, console.export_text()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"limit": 0}, "--limit must be at least 1, got 0"),
        ({"prompt_version": "99"}, "prompt version '99': prompt 'tip-orchestrator' has no"),
        ({"compare": ("1", "7")}, "prompt version '7'"),
        ({"model": "gpt-nope"}, "unknown model alias 'gpt-nope'"),
    ],
)
def test_invalid_inputs_exit_2_with_one_line(
    sqlite_settings: MakeSettings,
    tmp_path: Path,
    overrides: dict[str, object],
    message: str,
) -> None:
    code, output = _run_command(sqlite_settings, tmp_path, **overrides)
    assert code == 2
    assert message in output
    assert output.strip().count("\n") == 0 and "Traceback" not in output
    assert not (tmp_path / "mlflow.db").exists()


def test_a_comparison_runs_both_logs_both_and_prints_the_deltas(
    sqlite_settings: MakeSettings, tmp_path: Path
) -> None:
    code, output = _run_command(sqlite_settings, tmp_path, compare=("1", "1"), limit=2)
    assert code == 0, output
    assert output.count("MLflow run ") == 2
    assert "vs" in output and "expectation_hit_rate" in output and "= same" in output
    assert (tmp_path / "mlartifacts").is_dir()  # beside the tracking database, not ./mlruns


TWO = ["paris-overdue-invoice", "newyork-due-today-deadline"]


def _two_scenarios(tmp_path: Path) -> Path:
    import yaml

    from ml.evaluation.dataset import DEFAULT_SCENARIOS

    data = yaml.safe_load(DEFAULT_SCENARIOS.read_text(encoding="utf-8"))
    picked = [s for s in data["scenarios"] if s["id"] in TWO]
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({"scenarios": picked}, sort_keys=False), encoding="utf-8")
    return path


def test_any_scenario_file_runs_and_the_metrics_go_to_json(
    sqlite_settings: MakeSettings, tmp_path: Path
) -> None:
    out = tmp_path / "results" / "eval.json"
    code, output = _run_command(
        sqlite_settings, tmp_path, limit=None, judge=False,
        scenarios_path=_two_scenarios(tmp_path), json_path=out,
    )  # fmt: skip
    assert code == 0, output
    assert f"wrote {out}" in output
    document = json.loads(out.read_text())
    metrics = document["metrics"]
    named = {"valid_output_rate", "grounding_rate", "consent_violations", "context_violations",
             "fallback_rate", "latency_p50_ms", "latency_p95_ms"}  # fmt: skip
    assert named <= set(metrics)
    assert metrics["scenarios"] == 2 and metrics["consent_violations"] == 0
    [run] = document["runs"]
    assert run["metrics"] == metrics
    assert [s["id"] for s in run["scenarios"]] == TWO
    assert run["params"]["scenario_count"] == 2


def test_a_bad_scenario_file_or_json_path_is_refused_before_anything_runs(
    sqlite_settings: MakeSettings, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("scenarios:\n  - id: x\n    timezone: Mars/Olympus\n", encoding="utf-8")
    code, output = _run_command(sqlite_settings, tmp_path, scenarios_path=broken)
    assert code == 2 and f"{broken}:" in output and "Traceback" not in output
    code, output = _run_command(sqlite_settings, tmp_path, json_path=tmp_path)
    assert code == 2 and "is a directory" in output
    missing = tmp_path / "nope.yaml"
    code, output = _run_command(sqlite_settings, tmp_path, scenarios_path=missing)
    assert code == 2 and "cannot be read" in output
    assert not (tmp_path / "mlflow.db").exists()
