"""`nudge explain`, `nudge replay` and `nudge eval`: why a tip was given, and how a prompt
or model would do instead."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from nudge.cli.terminal import boot, err, load_settings, out

if TYPE_CHECKING:
    from ml.serving.tip.explanation import ExplainOut
    from ml.serving.tip.replay import Rebuilt, Rerun
    from ml.serving.tip.tip_store import StoredTip
    from nudge.runtime import Nudge
    from nudge.settings import Settings

_TIP_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

TipId = Annotated[str, typer.Argument(help="the tip's id (from the API or `nudge explain`)")]


def _tip_id(value: str) -> str:
    if not _TIP_ID.fullmatch(value):
        err.print(f"[red]error:[/red] {escape(value)!r} is not a tip id (a UUID)")
        raise typer.Exit(2)
    return value


def explain(tip_id: TipId) -> None:
    """Print why a tip was given: what it cites, what was left out and why, how it was made."""
    from ml.serving.tip.explain import explain as explain_tip
    from nudge_infra.errors import NotFound

    nudge = boot(load_settings(embedded_llm=False))
    try:
        tip = nudge.tips.get(_tip_id(tip_id))
        explained = explain_tip(tip, nudge.tips.feedback_of(tip_id), nudge.registry.current)
    except NotFound as exc:
        err.print(f"[red]{escape(exc.message)}[/red]")
        raise typer.Exit(1) from None
    finally:
        nudge.stop()
    _print_explanation(explained)


def _print_explanation(e: ExplainOut) -> None:
    flag = f" [yellow](fallback: {e.fallback_reason})[/yellow]" if e.fallback else ""
    out.print(f"[bold]{escape(e.text)}[/bold]{flag}")
    out.print(escape(e.because))
    out.print(f"[dim]{e.tip_id} for {escape(e.user_id)}, {e.created_at:%Y-%m-%d %H:%M} UTC[/dim]")
    if e.cited:
        table = Table("cited agent", "version", "computed", "snippet", title="Based on")
        for c in e.cited:
            table.add_row(
                escape(c.name), str(c.version), f"{c.computed_at:%H:%M}", escape(c.snippet)
            )
        out.print(table)
    if e.not_used:
        table = Table("agent", "why not", title="Not used")
        for u in e.not_used:
            table.add_row(escape(u.name), escape(u.why))
        out.print(table)
    how = Table("", "", show_header=False, title="How it was made")
    how.add_row("context", escape(e.context or "none"))
    how.add_row("prompt", f"{escape(e.prompt['name'])} version {escape(e.prompt['version'])}")
    how.add_row("model", f"{escape(e.model['alias'])} → {escape(e.model['resolved'])}")
    ms = e.latency_ms
    how.add_row(
        "latency", f"{ms['total']:.0f} ms (assembly {ms['assembly']:.1f}, LLM {ms['llm']:.0f})"
    )
    how.add_row("tokens", f"{e.tokens['prompt']} in, {e.tokens['completion']} out")
    if e.fallback:
        detail = f": {e.fallback_detail}" if e.fallback_detail else ""
        how.add_row("fallback", escape(f"{e.fallback_reason}{detail}"))
    how.add_row("served", f"{e.serve_count}× ({'reused' if e.cached else 'written once'})")
    experiment = e.experiment
    how.add_row(
        "experiment",
        f"{escape(experiment['name'])}: {escape(experiment['variant'])}" if experiment else "none",
    )
    how.add_row("feedback", ", ".join(f["reaction"] for f in e.feedback) or "none")
    out.print(how)


def replay(
    tip_id: TipId,
    prompt_version: Annotated[
        str | None,
        typer.Option(help='prompt version ("3") or "@alias"; default: the tip\'s own'),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="LiteLLM model alias; default: the tip's own")
    ] = None,
    show_prompt: Annotated[bool, typer.Option(help="print the rebuilt prompt")] = False,
) -> None:
    """Rebuild a tip's exact prompt from its record, ask again at temperature 0, compare."""
    from ml.serving.tip.prompt import PromptError
    from ml.serving.tip.replay import ReplayError
    from nudge_infra.errors import NotFound

    settings = load_settings()
    nudge = boot(settings)
    try:
        tip = nudge.tips.get(_tip_id(tip_id))
        same, again, new = _ask_again(nudge, settings, tip, prompt_version, model)
    except NotFound as exc:
        err.print(f"[red]{escape(exc.message)}[/red]")
        raise typer.Exit(1) from None
    except (PromptError, ReplayError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    finally:
        nudge.stop()
    if same.identical:
        sha256 = tip.provenance["prompt"]["sha256"]
        out.print(f"[green]prompt rebuilt: identical[/green] (sha256 {sha256[:16]}…)")
    else:
        out.print("[red]prompt rebuilt: differs from the recorded one[/red]")
    if show_prompt:
        out.print(escape(again.prompt.text))
    out.print(_replay_table(tip, new))
    if not same.identical:
        raise typer.Exit(1)


def _ask_again(
    nudge: Nudge,
    settings: Settings,
    tip: StoredTip,
    prompt_version: str | None,
    model: str | None,
) -> tuple[Rebuilt, Rebuilt, Rerun]:
    """Rebuild the recorded prompt and the one asked for, then ask the model again.

    Return the recorded prompt rebuilt, the prompt sent, and the model's new answer.
    """
    from ml.serving.llm.port import knows
    from ml.serving.prompts.prompt_registry import PromptRegistry, template_for
    from ml.serving.tip.prompt import DEFAULT_PROMPT
    from ml.serving.tip.replay import rebuild, rerun

    recorded = tip.provenance["prompt"]
    registry = PromptRegistry(settings.mlflow_uri)
    original = template_for(registry, recorded["name"], recorded["version"], DEFAULT_PROMPT)
    same = rebuild(tip, original)
    target = (
        template_for(registry, recorded["name"], prompt_version, DEFAULT_PROMPT)
        if prompt_version
        else original
    )
    alias = model or tip.provenance["model"]["alias"]
    if not knows(nudge.llm, alias):
        err.print(f"[red]error:[/red] no model alias {escape(alias)!r} in the LiteLLM config")
        raise typer.Exit(2)
    again = same if target is original else rebuild(tip, target)
    with out.status("starting the LLM …"):
        nudge.start_llm()
    with out.status(f"asking {alias} …"):
        new = asyncio.run(
            rerun(
                again,
                llm=nudge.llm,
                alias=alias,
                config=nudge.orchestrator.config,
                prompt_version=target.version,
            )
        )
    return same, again, new


def _replay_table(tip: StoredTip, new: Rerun) -> Table:
    """Set the stored tip and its replay side by side."""
    p = tip.provenance
    recorded = p["prompt"]
    table = Table("", "stored tip", "replay", title=f"tip {tip.tip_id}")
    table.add_row("prompt", f"{recorded['name']} v{recorded['version']}", f"v{new.prompt_version}")
    table.add_row(
        "model",
        f"{p['model']['alias']} → {p['model']['resolved']}",
        f"{new.alias} → {new.resolved_model}",
    )
    table.add_row("tip", escape(tip.text), escape(new.answer.tip) if new.answer else "—")
    table.add_row(
        "agents", ", ".join(tip.agents), ", ".join(new.answer.agents) if new.answer else "—"
    )
    table.add_row(
        "rationale", escape(tip.rationale), escape(new.answer.rationale) if new.answer else "—"
    )
    table.add_row(
        "outcome",
        f"fallback: {tip.fallback_reason}" if tip.fallback else "model answer",
        escape(new.error) if new.error else "model answer",
    )
    table.add_row("LLM latency", f"{p['latency_ms']['llm']:.0f} ms", f"{new.llm_ms:.0f} ms")
    table.add_row(
        "tokens",
        f"{p['tokens']['prompt']} in, {p['tokens']['completion']} out",
        f"{new.prompt_tokens} in, {new.completion_tokens} out",
    )
    return table


def eval_command(
    ctx: typer.Context,
    prompt_version: Annotated[
        str | None,
        typer.Option(help='prompt version ("3") or "@alias"; default: the served alias'),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="LiteLLM alias of the model; default: tip-generator")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="only the first N scenarios")] = None,
    compare: Annotated[
        tuple[str, str] | None,
        typer.Option(help="run two prompt versions and print the differences", metavar="V1 V2"),
    ] = None,
    judge: Annotated[bool, typer.Option(help="score tips with the `judge` alias")] = True,
    scenarios: Annotated[
        Path | None,
        typer.Option(help="a scenario file in the same format; default: the shipped one"),
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="write the metrics and each scenario here")
    ] = None,
    candidates: Annotated[
        int | None,
        typer.Option(
            min=1, max=8, help="answers asked for after a refused one; default: the alias's"
        ),
    ] = None,
) -> None:
    """Run the evaluation scenarios through the real orchestrator; log the run to MLflow.

    `nudge eval policy` estimates a policy's acceptance from the logged tips instead."""
    if ctx.invoked_subcommand is not None:
        return
    from ml.evaluation.command import evaluate
    from ml.evaluation.dataset import DEFAULT_SCENARIOS

    code = evaluate(
        load_settings(),
        prompt_version=prompt_version,
        model=model,
        limit=limit,
        compare=compare,
        judge=judge,
        console=out,
        scenarios_path=scenarios or DEFAULT_SCENARIOS,
        json_path=json_path,
        candidates=candidates,
    )
    if code:
        raise typer.Exit(code)
