"""What a simulation found: the three arms' acceptance, the ratios the targets name, the
off-policy check; as JSON, as a table, and as an MLflow run with a plot of the curves."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ml.evaluation.off_policy import estimate
from ml.evaluation.simulation.run import ArmResult, SimConfig
from ml.serving.tip.bandits import POLICY_NAMES, make_policy
from ml.serving.tip.policy import PolicyConfig


def second_half(result: ArmResult) -> float:
    """Acceptance over the second half of the run: done tips per visit."""
    start = len(result.visits_by_day) // 2
    visits = sum(result.visits_by_day[start:])
    return sum(result.done_by_day[start:]) / visits if visits else 0.0


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b > 0 else None


def summary(config: SimConfig, llm: str, arms: Mapping[str, ArmResult]) -> dict[str, Any]:
    """The JSON document ``nudge simulate --json`` writes."""
    learned, static, oracle = (second_half(arms[a]) for a in ("learned", "static", "oracle"))
    return {
        "config": {
            "users": config.users,
            "days": config.days,
            "seed": config.seed,
            "llm": llm,
            "top_k": config.top_k,
            "epsilon": config.epsilon,
            "policy": config.policy,
        },
        "acceptance": {"learned": learned, "static": static, "oracle": oracle},
        "acceptance_ratio": _ratio(learned, static),
        "gap_closed": _ratio(learned - static, oracle - static),
        "done_item_repeats": sum(r.done_item_repeats for r in arms.values()),
        "done_item_repeats_by_arm": {a: r.done_item_repeats for a, r in arms.items()},
        "fallbacks_by_arm": {a: r.fallbacks for a, r in arms.items()},
        "acceptance_by_day": {
            a: [round(x, 4) for x in r.acceptance_by_day] for a, r in arms.items()
        },
        "off_policy": off_policy(config, arms),
    }


def off_policy(config: SimConfig, arms: Mapping[str, ArmResult]) -> dict[str, Any]:
    """Every other policy's acceptance estimated from the learned run's logged tips, next
    to what it would truly have earned in those same situations (the hidden tastes)."""
    logged = arms["learned"]
    policy_config = PolicyConfig(top_k=config.top_k, epsilon=config.epsilon)
    targets = {}
    for name in (n for n in POLICY_NAMES if n != config.policy):
        off = estimate(make_policy(name, policy_config), logged.logs)
        truth = logged.counterfactual.get(name, 0.0)
        found: dict[str, Any] = {"true": round(truth, 4), "effective_n": round(off.effective_n, 1)}
        for kind in ("ips", "snips", "dr"):
            value, se = getattr(off, kind), getattr(off, f"{kind}_se")
            found |= {kind: round(value, 4), f"{kind}_se": round(se, 4)}
            found[f"{kind}_error"] = _ratio(value - truth, truth)
            found[f"{kind}_within_95"] = abs(value - truth) <= 1.96 * se
        targets[name] = found
    return {
        "logged_by": config.policy,
        "n": len(logged.logs),
        "logged_expected": round(logged.counterfactual.get("logged", 0.0), 4),
        "logged_realised": round(logged.tip_acceptance, 4),
        "static_arm_acceptance": round(arms["static"].tip_acceptance, 4),
        "targets": targets,
    }


def write_json(document: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def plot(document: Mapping[str, Any], path: Path) -> None:
    """Draw the acceptance curves of the three arms into a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display; chosen before pyplot is imported
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for arm, style in (("oracle", ":"), ("learned", "-"), ("static", "--")):
        curve = document["acceptance_by_day"][arm]
        ax.plot(range(1, len(curve) + 1), curve, style, marker="o", markersize=3, label=arm)
    c = document["config"]
    ax.set(
        xlabel="day",
        ylabel="tips marked done per visit",
        title=f"{c['users']} users, {c['days']} days, seed {c['seed']}, llm {c['llm']}",
        ylim=(0, 1),
    )
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def log_to_mlflow(tracking_uri: str, document: Mapping[str, Any]) -> str:
    """Record the simulation as an MLflow run (params, metrics, curves, plot); its id."""
    from ml.evaluation.tracking import experiment_id
    from ml.serving.prompts.prompt_registry import offline_mlflow

    offline_mlflow()
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    c = document["config"]
    run_id: str = client.create_run(
        experiment_id(client, "nudge-simulate", tracking_uri),
        run_name=f"sim-{c['users']}u-{c['days']}d-s{c['seed']}-{c['llm']}",
        tags={"nudge.kind": "simulation"},
    ).info.run_id
    try:
        for key, value in c.items():
            client.log_param(run_id, key, value)
        for key in ("acceptance_ratio", "gap_closed", "done_item_repeats"):
            if document[key] is not None:
                client.log_metric(run_id, key, float(document[key]))
        for arm, value in document["acceptance"].items():
            client.log_metric(run_id, f"acceptance_{arm}", value)
        for arm, curve in document["acceptance_by_day"].items():
            for day, value in enumerate(curve, start=1):
                client.log_metric(run_id, f"acceptance_by_day_{arm}", value, step=day)
        with tempfile.TemporaryDirectory() as tmp:
            plot(document, Path(tmp) / "acceptance.png")
            write_json(document, Path(tmp) / "simulation.json")
            client.log_artifacts(run_id, tmp)
    except BaseException:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id)
    return run_id
