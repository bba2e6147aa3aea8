"""The scenario file: it loads, it is varied, and its expectations agree with the manifests."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from ml.evaluation import generate
from ml.evaluation.consistency import scenario_problems
from ml.evaluation.dataset import (
    DEFAULT_SCENARIOS,
    DatasetError,
    Scenario,
    dataset_digest,
    load_scenarios,
)
from ml.evaluation.shadow import snippets_for
from ml.registry.loader import load_registry
from ml.registry.registry import Registry
from nudge.settings import REPO_ROOT


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry(REPO_ROOT / "manifests")


@pytest.fixture(scope="module")
def scenarios() -> list[Scenario]:
    return load_scenarios()


def test_the_file_loads_with_at_least_60_unique_ids(scenarios: list[Scenario]) -> None:
    ids = [s.id for s in scenarios]
    assert len(ids) >= 60
    assert len(set(ids)) == len(ids)


def test_every_not_cite_agent_is_excluded_by_its_manifest(
    scenarios: list[Scenario], registry: Registry
) -> None:
    """Read straight from the manifests, so expectations cannot drift from them."""
    for scenario in scenarios:
        for agent_id in scenario.expect.not_cite:
            manifest = registry.agents[agent_id].manifest
            missing = set(manifest.consents) - set(scenario.consents)
            silenced = scenario.context is not None and scenario.context in manifest.silenced_in
            assert missing or silenced, (
                f"{scenario.id}: {agent_id} is in not_cite but has its consents "
                f"{list(manifest.consents)} and is not silenced in {scenario.context!r}"
            )


def test_every_expectation_can_be_met(scenarios: list[Scenario], registry: Registry) -> None:
    problems = [p for s in scenarios for p in scenario_problems(s, registry)]
    assert problems == []


def test_the_file_is_what_the_generator_writes(registry: Registry) -> None:
    expected = generate.render(generate.build(registry))
    actual = DEFAULT_SCENARIOS.read_text(encoding="utf-8")
    assert actual == expected, "run `python -m ml.evaluation.generate` and commit the result"


def test_the_scenarios_are_varied(scenarios: list[Scenario], registry: Registry) -> None:
    assert len({s.timezone for s in scenarios}) >= 10
    assert {None, "vacation", "sleep", "focus"} <= {s.context for s in scenarios}
    local_hours = {s.now.astimezone(s.zone).hour for s in scenarios}
    assert {h for h in local_hours if h < 5}, "a night scenario"
    assert {h for h in local_hours if 5 <= h < 9}, "an early morning"
    assert {h for h in local_hours if h >= 19}, "an evening"
    assert any(s.now.astimezone(s.zone).weekday() >= 5 for s in scenarios), "a weekend"
    assert any(not s.consents for s in scenarios)
    kinds = Counter(sig.kind for s in scenarios for sig in s.signals)
    read = {kind for agent in registry.enabled() for kind in agent.manifest.reads}
    assert read <= set(kinds), f"no scenario has signals of {sorted(read - set(kinds))}"
    speaking = Counter(a for s in scenarios for a in snippets_for(registry, s))
    assert {a.id for a in registry.enabled()} <= set(speaking)
    silent = [s.id for s in scenarios if not _admitted(s, registry)]
    assert len(silent) >= 3, "some scenarios must leave no agent eligible"
    assert any(len(s.signals) <= 2 for s in scenarios), "some with very few signals"


def _admitted(scenario: Scenario, registry: Registry) -> list[str]:
    excluded = set(scenario.expect.not_cite)
    return [a for a in snippets_for(registry, scenario) if a not in excluded]


def test_the_digest_changes_with_the_data(scenarios: list[Scenario]) -> None:
    assert dataset_digest(scenarios) == dataset_digest(load_scenarios())
    assert dataset_digest(scenarios[:10]) != dataset_digest(scenarios)


# --- malformed files -------------------------------------------------------------------------

GOOD = """\
scenarios:
- id: good-one
  description: A valid scenario.
  now: '2026-03-10T08:40:00+01:00'
  timezone: Europe/Paris
  consents: [tasks.read]
  context: null
  signals:
  - {kind: task, external_id: t1, occurred_at: '2026-03-09T08:00:00+01:00', payload: {title: X}}
  expect:
    cite: [tasks]
    mention: [[X, y]]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenarios.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(DatasetError) as caught:
        load_scenarios(_write(tmp_path, text))
    return caught.value.problems


def test_a_valid_file_loads_and_keeps_mention_alternatives(tmp_path: Path) -> None:
    (scenario,) = load_scenarios(_write(tmp_path, GOOD))
    assert scenario.expect.mention == (("X", "y"),)
    assert scenario.signals[0].to_signal_in().payload == {"title": "X"}


def test_an_unknown_field_names_the_file_line_scenario_and_field(tmp_path: Path) -> None:
    text = GOOD.replace("    cite: [tasks]", "    citee: [tasks]")
    (problem,) = _problems(tmp_path, text)
    path = tmp_path / "scenarios.yaml"
    assert problem.startswith(f"{path}:11: scenario 'good-one': expect.citee: ")
    assert "Extra inputs are not permitted" in problem


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = (
        GOOD.replace("'2026-03-10T08:40:00+01:00'", "'2026-03-10T08:40:00'")
        .replace("Europe/Paris", "Europe/Pariss")
        .replace("mention: [[X, y]]", "mention: [[X], []]")
        .replace("payload: {title: X}", "payload: [X]")
    )
    problems = _problems(tmp_path, text)
    where = {p.split(": ")[2]: int(p.split(": ")[0].rsplit(":", 1)[1]) for p in problems}
    assert where == {
        "now": 4,
        "timezone": 5,
        "signals.0.payload": 9,
        "expect.mention.1": 12,
    }
    assert any("'Europe/Pariss' is not an IANA time zone" in p for p in problems)
    assert any("timezone info" in p for p in problems)
    assert all("scenario 'good-one'" in p for p in problems)


def test_cite_and_not_cite_may_not_overlap(tmp_path: Path) -> None:
    (problem,) = _problems(tmp_path, GOOD + "    not_cite: [tasks]\n")
    assert "scenario 'good-one': expect: tasks both in cite and not_cite" in problem


def test_a_duplicate_id_is_an_error_naming_the_first(tmp_path: Path) -> None:
    second = GOOD.split("scenarios:\n", 1)[1]
    problems = _problems(tmp_path, GOOD + second)
    assert problems == [
        f"{tmp_path / 'scenarios.yaml'}:13: scenario 'good-one': id: duplicate of the "
        "scenario at line 2; ids must be unique"
    ]


def test_an_unquoted_date_in_a_payload_stays_text(tmp_path: Path) -> None:
    text = GOOD.replace("payload: {title: X}", "payload: {title: X, due: 2026-03-10}")
    (scenario,) = load_scenarios(_write(tmp_path, text))
    assert scenario.signals[0].payload["due"] == "2026-03-10"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- just a list\n", ":1: expected a mapping with a `scenarios:` list"),
        ("scenarios: [1]\n", "scenario #1: expected a mapping"),
        ("scenarios: [\n", "not valid YAML"),
    ],
)
def test_a_file_of_the_wrong_shape_is_reported(tmp_path: Path, text: str, message: str) -> None:
    (problem,) = _problems(tmp_path, text)
    assert message in problem


def test_a_missing_file_is_one_clear_problem(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="cannot be read"):
        load_scenarios(tmp_path / "absent.yaml")


def test_consistency_names_a_wrong_not_cite(registry: Registry) -> None:
    (scenario,) = [s for s in load_scenarios() if s.id == "paris-overdue-invoice"]
    wrong = scenario.model_copy(
        update={"expect": scenario.expect.model_copy(update={"not_cite": ("tasks",)})}
    )
    assert any(
        "not_cite: tasks is neither missing a consent" in p
        for p in scenario_problems(wrong, registry)
    )
