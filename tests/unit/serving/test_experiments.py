"""Experiment assignment: deterministic, sticky, even by weight; and the file's rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.serving.prompts.experiments import (
    Assignment,
    Experiment,
    Experiments,
    ExperimentsError,
    Variant,
    choose_arm,
    split,
)
from ml.serving.tip.prompt import PromptTemplate

IDS = [f"user-{n}" for n in range(10_000)]


def experiment(*weights: int, name: str = "exp") -> Experiment:
    return Experiment(
        name=name,
        variants=[Variant(name=f"v{i}", weight=w) for i, w in enumerate(weights)],
    )


@pytest.mark.parametrize("weights", [(50, 50), (70, 30), (1, 1, 1), (10, 20, 70)])
def test_split_over_10k_ids_is_within_two_points_of_the_weights(weights: tuple[int, ...]) -> None:
    counts = split(experiment(*weights), IDS)
    total = sum(weights)
    for i, weight in enumerate(weights):
        share = counts[f"v{i}"] / len(IDS)
        assert abs(share - weight / total) <= 0.02, (weights, counts)


def test_assignment_is_sticky_and_depends_on_the_experiment_name() -> None:
    a, b = experiment(50, 50, name="first"), experiment(50, 50, name="second")
    first = [a.variant_for(u).name for u in IDS[:2000]]
    assert first == [a.variant_for(u).name for u in IDS[:2000]]
    # Rebuilt from scratch (another process, another replica): the same answer.
    assert first == [experiment(50, 50, name="first").variant_for(u).name for u in IDS[:2000]]
    second = [b.variant_for(u).name for u in IDS[:2000]]
    agree = sum(x == y for x, y in zip(first, second, strict=True)) / 2000
    assert 0.45 < agree < 0.55  # independent experiments split users independently


def test_changing_a_weight_moves_only_the_users_it_must() -> None:
    before = experiment(50, 50)
    after = experiment(60, 40)
    moved = [u for u in IDS if before.variant_for(u).name != after.variant_for(u).name]
    assert all(after.variant_for(u).name == "v0" for u in moved)
    assert abs(len(moved) / len(IDS) - 0.10) <= 0.02


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "experiments.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_file_and_a_missing_file_mean_no_experiment(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[3]
    assert Experiments.load(repo / "config" / "experiments.yaml").all == ()
    assert Experiments.load(tmp_path / "absent.yaml").active is None
    assert Experiments.load(None).assign("anyone") is None


def test_a_file_assigns_with_prompt_and_model(tmp_path: Path) -> None:
    loaded = Experiments.load(
        write(
            tmp_path,
            """
experiments:
  - name: old
    enabled: false
    variants: [{name: a, weight: 1}, {name: b, weight: 1}]
  - name: concise
    variants:
      - {name: control, weight: 1}
      - {name: short, weight: 1, prompt: "@candidate", model: judge}
""",
        )
    )
    assert loaded.active is not None and loaded.active.name == "concise"
    assert loaded.prompt_refs() == ["@candidate"]
    seen = {loaded.assign(u) for u in IDS[:200]}
    assert seen == {
        Assignment("concise", "control", None, None),
        Assignment("concise", "short", "@candidate", "judge"),
    }


@pytest.mark.parametrize(
    ("text", "mentions"),
    [
        ("experiments: [{name: x, variants: [{name: a, weight: 1}]}]", "experiments.0.variants"),
        (
            "experiments: [{name: x, variants: [{name: a, weight: 1}, {name: a, weight: 2}]}]",
            "unique",
        ),
        ("experiments: [{name: x, variants: [{name: a, weight: 0}, {name: b, weight: 1}]}]", "0"),
        (
            "experiments: [{name: x, colour: red, variants: [{name: a, weight: 1},"
            " {name: b, weight: 1}]}]",
            "colour",
        ),
        (
            "experiments: [{name: x, variants: [{name: a, weight: 1, prompt: latest},"
            " {name: b, weight: 1}]}]",
            "prompt",
        ),
        (
            "experiments:\n"
            "  - {name: x, variants: [{name: a, weight: 1}, {name: b, weight: 1}]}\n"
            "  - {name: y, variants: [{name: a, weight: 1}, {name: b, weight: 1}]}\n",
            "at most one experiment may be enabled",
        ),
        ("experiments: [{name: 'Bad Name', variants: []}]", "name"),
        ("experiments: {", "cannot be read"),
        ("- just a list", "(top level)"),
    ],
)
def test_bad_files_are_refused_naming_the_field(tmp_path: Path, text: str, mentions: str) -> None:
    with pytest.raises(ExperimentsError) as caught:
        Experiments.load(write(tmp_path, text))
    assert str(tmp_path) in str(caught.value)
    assert mentions in str(caught.value)


def test_unknown_model_aliases_are_refused(tmp_path: Path) -> None:
    loaded = Experiments.load(
        write(
            tmp_path,
            "experiments: [{name: x, variants: [{name: a, weight: 1},"
            " {name: b, weight: 1, model: gpt-9}]}]",
        )
    )
    with pytest.raises(ExperimentsError, match="'gpt-9' is not in the LiteLLM model_list"):
        loaded.check_models(lambda alias: alias == "tip-generator")


def test_choose_arm_serves_the_control_when_a_pinned_prompt_is_not_loaded() -> None:
    default = PromptTemplate.load()
    pinned = PromptTemplate.parse(
        name=default.name, version="7", system="Be brief.", user=default.source
    )
    short = Assignment("x", "short", "@candidate", "judge")
    arm = choose_arm(
        short, default_prompt=default, default_alias="tip-generator", pinned=lambda _: pinned
    )
    assert (arm.prompt.version, arm.alias, arm.variant) == ("7", "judge", "short")
    missing = choose_arm(
        short, default_prompt=default, default_alias="tip-generator", pinned=lambda _: None
    )
    assert (missing.prompt, missing.alias, missing.experiment) == (default, "tip-generator", None)
    model_only = choose_arm(
        Assignment("x", "big", None, "judge"),
        default_prompt=default,
        default_alias="tip-generator",
        pinned=lambda _: None,
    )
    assert (model_only.prompt, model_only.alias, model_only.variant) == (default, "judge", "big")
