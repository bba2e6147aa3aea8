"""`nudge simulate` and `nudge eval policy`: how well the learned policy does, measured."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from nudge.cli.terminal import err, load_settings, out


def simulate(
    users: Annotated[int, typer.Option(min=1, max=10_000, help="synthetic users")] = 50,
    days: Annotated[int, typer.Option(min=2, max=365, help="simulated days")] = 14,
    seed: Annotated[int, typer.Option(help="the same seed gives the same users and worlds")] = 1,
    llm: Annotated[
        Literal["stub", "embedded"], typer.Option(help="stub: phrases the first snippet")
    ] = "stub",
    json_path: Annotated[
        Path | None, typer.Option("--json", help="write the results as JSON here")
    ] = None,
    mlflow: Annotated[bool, typer.Option(help="log the run and its plot to MLflow")] = True,
    policy: Annotated[
        Literal["bayes-ucb", "thompson"], typer.Option(help="the learned arm's policy")
    ] = "bayes-ucb",
) -> None:
    """Run synthetic users with hidden tastes through the product three times (learned,
    static and oracle policy, same seed) and compare how often they act on their tips."""
    from ml.evaluation.simulation.findings import log_to_mlflow, summary, write_json
    from ml.evaluation.simulation.run import ARMS, ArmResult, SimConfig, run_arm
    from ml.evaluation.simulation.stub_llm import StubLLM

    settings = load_settings(embedded_llm=llm == "embedded")
    config = SimConfig(users=users, days=days, seed=seed, policy=policy)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    results: dict[str, ArmResult] = {}
    started = time.perf_counter()
    with Progress(*columns, console=err) as progress:
        for arm in ARMS:
            task = progress.add_task(f"{arm:8}", total=users * days * 3)

            def advance(n: int, task: TaskID = task) -> None:
                progress.advance(task, n)

            stub = StubLLM() if llm == "stub" else None
            results[arm] = asyncio.run(run_arm(arm, config, settings, stub, advance))
    document = summary(config, llm, results)
    document["elapsed_s"] = round(time.perf_counter() - started, 1)
    out.print(_table(document))
    out.print(_off_policy_table(document))
    if json_path is not None:
        write_json(document, json_path)
        out.print(f"wrote {escape(str(json_path))}")
    if mlflow:
        run_id = log_to_mlflow(settings.mlflow_uri, document)
        out.print(f"logged MLflow run {run_id} (experiment nudge-simulate)")


def _table(document: dict[str, Any]) -> Table:
    table = Table(title="acceptance: tips marked done per visit")
    days = len(document["acceptance_by_day"]["learned"])
    table.add_column("policy")
    table.add_column(f"second half (days {days // 2 + 1}-{days})", justify="right")
    table.add_column("by day", overflow="fold")
    table.add_column("done item repeats", justify="right")
    for arm in ("learned", "static", "oracle"):
        curve = " ".join(f"{x:.2f}" for x in document["acceptance_by_day"][arm])
        repeats = str(document["done_item_repeats_by_arm"][arm])
        table.add_row(arm, f"{document['acceptance'][arm]:.3f}", curve, repeats)
    table.caption = (
        f"learned ÷ static = {document['acceptance_ratio']}, gap closed = {document['gap_closed']}"
    )
    return table


def _off_policy_table(document: dict[str, Any]) -> Table:
    off = document["off_policy"]
    table = Table(
        title=f"other policies estimated from the {off['logged_by']} run's {off['n']} tips"
    )
    for name in ("policy", "true", "IPS", "SNIPS", "DR", "effective n"):
        table.add_column(name, justify="left" if name == "policy" else "right")
    for name, found in off["targets"].items():
        cells = [f"{found[k]:.3f} ± {1.96 * found[f'{k}_se']:.3f}" for k in ("ips", "snips", "dr")]
        table.add_row(name, f"{found['true']:.3f}", *cells, f"{found['effective_n']:.0f}")
    return table


def eval_policy(
    target: Annotated[
        Literal["static", "bayes-ucb", "thompson"], typer.Option(help="the policy to estimate")
    ] = "static",
) -> None:
    """Estimate a policy's acceptance from the tips this Nudge logged (IPS, SNIPS, DR)."""
    from ml.evaluation.policy_eval import evaluate_policy
    from ml.serving.tip.bandits import make_policy
    from ml.serving.tip.policy import PolicyConfig
    from nudge_infra.storage.engine import make_engine

    settings = load_settings(embedded_llm=False)
    config = PolicyConfig(top_k=settings.policy_top_k, epsilon=settings.policy_epsilon)
    policy = make_policy(target, config)
    engine = make_engine(settings.sqlalchemy_url)
    try:
        found = evaluate_policy(engine, policy)
    except ValueError as exc:
        err.print(f"[red]the logged tips cannot be used:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    if found.n == 0:
        err.print("no logged tip carries a policy record yet: nothing to estimate from")
        raise typer.Exit(1)
    table = Table(title=f"estimated acceptance of the {target} policy ({policy.version})")
    for name in ("logged tips", "effective n", "logged acceptance", "IPS", "SNIPS", "DR"):
        table.add_column(name, justify="right")
    estimates = [f"{v:.3f} ± {1.96 * se:.3f}" for v, se in ((found.ips, found.ips_se),
                 (found.snips, found.snips_se), (found.dr, found.dr_se))]  # fmt: skip
    table.add_row(str(found.n), f"{found.effective_n:.1f}", f"{found.on_policy_mean:.3f}",
                  *estimates)  # fmt: skip
    table.caption = "± is a 95 % interval (1.96 standard errors)"
    out.print(table)
