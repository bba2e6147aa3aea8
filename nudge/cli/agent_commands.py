"""`nudge agents`: validate and list the manifests, and try one agent for one user."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ml.precompute.sweep import Preview
from nudge.cli.terminal import boot, err, load_settings, out

agents_app = typer.Typer(no_args_is_help=True, help="Inspect, validate and try agents.")


@agents_app.command("validate")
def agents_validate(
    path: Annotated[
        Path | None, typer.Argument(help="a manifest directory (default: manifests/)")
    ] = None,
) -> None:
    """Check manifests offline (and the signal kinds they read); print every error and exit
    non-zero if there is any."""
    from ml.registry.loader import load_registry
    from nudge_profile.signal_kinds import SignalKindError, SignalKinds

    settings = load_settings()
    directory = path or settings.manifests_dir
    if not directory.is_dir():
        err.print(f"[red]{directory} is not a directory[/red]")
        raise typer.Exit(2)
    try:
        kinds = SignalKinds.load(settings.signal_kinds_dir)
    except SignalKindError as exc:
        err.print(f"[red]fail[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    registry = load_registry(
        directory, allowed_packages=settings.agent_packages, signal_kinds=kinds
    )
    for agent in sorted(registry.agents.values(), key=lambda a: a.id):
        out.print(f"[green]ok[/green]   {escape(str(agent.source))}: {agent.id} v{agent.version}")
    for error in registry.errors:
        err.print(f"[red]fail[/red] {escape(str(error))}")
    out.print(f"{len(registry.agents)} valid, {len(registry.errors)} error(s)")
    if registry.errors:
        raise typer.Exit(1)


@agents_app.command("list")
def agents_list() -> None:
    """List the agents of the manifest directory."""
    from ml.registry.loader import load_registry

    settings = load_settings()
    registry = load_registry(settings.manifests_dir, allowed_packages=settings.agent_packages)
    table = Table(
        "id", "version", "enabled", "priority", "every", "consents", "silenced in", "reads"
    )
    for a in sorted(registry.agents.values(), key=lambda a: (-a.priority, a.id)):
        m = a.manifest
        table.add_row(
            a.id,
            str(a.version),
            "yes" if a.enabled else "no",
            str(a.priority),
            str(m.schedule.every),
            ", ".join(m.consents),
            ", ".join(m.silenced_in),
            ", ".join(m.reads),
        )
    out.print(table)


@agents_app.command("dry-run")
def agents_dry_run(
    agent_id: Annotated[str, typer.Argument(help="the agent id")],
    user: Annotated[str, typer.Option("--user", help="the user id")],
) -> None:
    """Run one agent for one user and print the snippet it would store; store nothing."""
    from nudge_infra.errors import NotFound

    nudge = boot(load_settings(embedded_llm=False))
    try:
        preview = nudge.sweeper.preview(agent_id, user)
    except NotFound as exc:
        err.print(f"[red]{escape(exc.message)}[/red]")
        raise typer.Exit(1) from None
    finally:
        nudge.stop()
    if preview.error is not None:
        err.print(f"[red]the agent failed:[/red] {escape(preview.error)}")
        raise typer.Exit(1)
    print_preview(agent_id, user, preview)


def print_preview(agent_id: str, user: str, preview: Preview) -> None:
    """Print a dry run: the snippet and its items, the params and their sources, the state."""
    snippet, prepared = preview.snippet, preview.prepared

    def block(title: str, value: object) -> None:
        text = json.dumps(value, indent=2, sort_keys=True, default=str)
        out.print(f"[bold]{title}[/bold]\n{escape(text)}")

    if snippet is None:
        out.print(f"{agent_id} has nothing to say for {user} right now (no snippet).")
    else:
        out.print(f"[bold]snippet[/bold]\n{escape(snippet.text)}")
        if snippet.suggestion:
            out.print(f"[bold]suggestion[/bold]\n{escape(snippet.suggestion)}")
        if snippet.items:
            block("items", [{"ref": i.ref, "label": i.label} for i in snippet.items])
        block("facts", dict(snippet.facts))
    if prepared is not None:
        block("params", prepared.sources)
        block("state before", dict(prepared.input.state))
    if preview.state is not None:
        block("state after", preview.state)
