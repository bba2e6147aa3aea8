"""The `nudge` command."""

from __future__ import annotations

import json
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import yaml
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nudge.cli.prompt_commands import prompts_app
from nudge.cli.terminal import boot, err, out
from nudge.cli.terminal import load_settings as _settings
from nudge.cli.tip_commands import eval_command, explain, replay
from nudge.credentials import GATEWAY_FILE
from nudge.settings import REPO_ROOT, Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ml.precompute.sweep import SweepReport
    from nudge.bootstrap import Nudge

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Nudge: one explainable tip per user."
)
agents_app = typer.Typer(no_args_is_help=True, help="Inspect, validate and try agents.")
app.add_typer(agents_app, name="agents")
app.add_typer(prompts_app, name="prompts")
app.command()(explain)
app.command()(replay)
app.command("eval")(eval_command)

OPENAPI_PATH = REPO_ROOT / "openapi" / "openapi.yaml"


def _logging(settings: Settings) -> None:
    from nudge_infra.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)


@app.command()
def run(
    demo: Annotated[bool, typer.Option(help="seed the demo users alice and bob")] = True,
    host: Annotated[str | None, typer.Option(help="listen address (NUDGE_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port (NUDGE_PORT)")] = None,
) -> None:
    """Run everything in one process: API, scheduler, precompute and the embedded LLM."""

    from nudge.bootstrap import build_app

    settings = _settings()
    _logging(settings)
    nudge = boot(settings)
    if demo:
        from nudge.demo.seed import seed_demo

        seeded = seed_demo(nudge, nudge.clock())
        out.print(f"demo users: {', '.join(seeded)}")
    _sweep_with_progress(nudge, None)
    where = f"http://{host or settings.host}:{port or settings.port}"
    gateway = nudge.credentials.files.get(GATEWAY_FILE)
    if gateway is not None:
        out.print(f"gateway credential: {gateway} (generated once, readable only by you)")
        bearer = f"Authorization: Bearer $(cat {gateway})"
    else:
        bearer = "Authorization: Bearer $NUDGE_GATEWAY_TOKEN"
    out.print(f'Nudge is up: try [bold]curl -H "{bearer}" {where}/v1/users/alice/tip[/bold]')
    _serve(
        build_app(nudge, sweep_now=False),
        host or settings.host,
        port or settings.port,
        settings.keepalive_s,
    )


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="listen address (NUDGE_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port (NUDGE_PORT)")] = None,
) -> None:
    """Serve HTTP only (with the outbox relay): schedulers and workers run elsewhere."""

    from nudge.bootstrap import build_app

    settings = _settings()
    _logging(settings)
    nudge = boot(settings)
    _serve(
        build_app(nudge, sweep_now=False, scheduler=False),
        host or settings.host,
        port or settings.port,
        settings.keepalive_s,
    )


def _serve(app: FastAPI, host: str, port: int, keepalive_s: int) -> None:
    import uvicorn

    uvicorn.run(
        app,
        host=host,
        port=port,
        timeout_keep_alive=keepalive_s,
        log_config=None,  # uvicorn's loggers go through ours (JSON by default)
        access_log=False,  # one access line per request comes from RequestContext
    )


@app.command()
def scheduler() -> None:
    """Enqueue sweep jobs at each agent's interval, and refresh jobs for new signals (NATS)."""
    from nudge.processes import run_scheduler

    settings = _settings(embedded_llm=False)
    _logging(settings)
    _require_nats(settings)
    run_scheduler(settings)


@app.command()
def worker() -> None:
    """Pull sweep jobs from NATS JetStream and run them; run as many as you like."""
    from nudge.processes import run_worker

    settings = _settings(embedded_llm=False)
    _logging(settings)
    _require_nats(settings)
    run_worker(settings)


def _require_nats(settings: Settings) -> None:
    if not settings.nats_url:
        err.print("error: NATS_URL is not set: scheduler and worker talk through JetStream")
        raise typer.Exit(2)


@app.command()
def token(
    user_id: Annotated[str, typer.Argument(help="the user the token acts for")],
    ttl: Annotated[int, typer.Option(min=60, max=30 * 86400, help="lifetime in seconds")] = 3600,
    admin: Annotated[bool, typer.Option(help="add the admin scope")] = False,
) -> None:
    """Print a signed user token (JWT) for USER_ID, for trying the API as that user."""
    from datetime import timedelta

    nudge = boot(_settings(embedded_llm=False))
    try:
        issued = nudge.auth.issue(
            user_id, ttl=timedelta(seconds=ttl), scopes=["admin"] if admin else []
        )
    except ValueError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from None
    finally:
        nudge.stop()
    typer.echo(issued)


@app.command("seed-demo")
def seed_demo_cmd() -> None:
    """Create (or refresh) the demo users and their signals."""
    from nudge.demo.seed import seed_demo

    nudge = boot(_settings(embedded_llm=False))
    out.print(f"seeded: {', '.join(seed_demo(nudge, nudge.clock()))}")
    nudge.stop()


@app.command()
def sweep(
    agent: Annotated[str | None, typer.Option(help="only this agent id")] = None,
) -> None:
    """Run precompute sweeps now, for all active users."""

    nudge = boot(_settings(embedded_llm=False))
    try:
        if agent is not None and nudge.registry.current.get(agent) is None:
            known = ", ".join(sorted(nudge.registry.current.agents))
            err.print(f"[red]unknown agent {agent!r}[/red]; known: {known}")
            raise typer.Exit(1)
        reports = _sweep_with_progress(nudge, agent)
    finally:
        nudge.stop()
    if any(r.status not in ("ok", "disabled") for r in reports):
        raise typer.Exit(1)


def _sweep_with_progress(nudge: Nudge, agent: str | None) -> list[SweepReport]:
    snapshot = nudge.registry.current
    ids = [agent] if agent else [a.id for a in snapshot.enabled()]
    users = nudge.sweeper.count_active_users()
    reports: list[SweepReport] = []
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=out) as progress:
        for agent_id in ids:
            task = progress.add_task(f"sweep {agent_id}", total=users or 1)
            report = nudge.sweeper.sweep(agent_id, partial(progress.advance, task))
            progress.update(task, completed=users or 1)
            reports.append(report)
    table = Table("agent", "version", "status", "users", "outputs", "empty", "failures")
    for r in reports:
        colour = (
            "green"
            if r.status == "ok"
            else "yellow"
            if r.status in ("partial", "disabled")
            else "red"
        )
        table.add_row(
            r.agent_id,
            str(r.agent_version),
            f"[{colour}]{r.status}[/{colour}]",
            str(r.users),
            str(r.outputs),
            str(r.empty),
            str(r.failures),
        )
    out.print(table)
    for r in reports:
        for line in r.errors:
            err.print(f"[yellow]{r.agent_id}[/yellow] {escape(line)}")
    return reports


@agents_app.command("validate")
def agents_validate(
    path: Annotated[
        Path | None, typer.Argument(help="a manifest directory (default: manifests/)")
    ] = None,
) -> None:
    """Check manifests offline; print every error and exit non-zero if there is any."""
    from ml.registry.loader import load_registry

    settings = _settings()
    directory = path or settings.manifests_dir
    if not directory.is_dir():
        err.print(f"[red]{directory} is not a directory[/red]")
        raise typer.Exit(2)
    registry = load_registry(directory, allowed_packages=settings.agent_packages)
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

    settings = _settings()
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

    nudge = boot(_settings(embedded_llm=False))
    try:
        snippet, error = nudge.sweeper.preview(agent_id, user)
    except NotFound as exc:
        err.print(f"[red]{escape(exc.message)}[/red]")
        raise typer.Exit(1) from None
    finally:
        nudge.stop()
    if error is not None:
        err.print(f"[red]the agent failed:[/red] {escape(error)}")
        raise typer.Exit(1)
    if snippet is None:
        out.print(f"{agent_id} has nothing to say for {user} right now (no snippet).")
        return
    out.print(f"[bold]snippet[/bold]\n{escape(snippet.text)}")
    if snippet.suggestion:
        out.print(f"[bold]suggestion[/bold]\n{escape(snippet.suggestion)}")
    out.print(
        f"[bold]facts[/bold]\n{escape(json.dumps(dict(snippet.facts), indent=2, sort_keys=True))}"
    )


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    from nudge_infra.storage.engine import make_engine
    from nudge_infra.storage.engine import migrate as run_migrations

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    run_migrations(make_engine(settings.sqlalchemy_url))
    out.print("database is up to date")


def openapi_document() -> str:
    """Render the HTTP contract from the app itself."""
    from nudge.bootstrap import build_app

    with tempfile.TemporaryDirectory() as tmp:
        nudge = boot(
            Settings(
                data_dir=Path(tmp), embedded_llm=False, database_url=None, watch_manifests=False
            )
        )
        try:
            spec = build_app(nudge, start=False).openapi()
        finally:
            nudge.stop()
    return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)


@app.command()
def openapi(
    check: Annotated[bool, typer.Option(help="fail if the committed file is stale")] = False,
) -> None:
    """Write openapi/openapi.yaml from the app."""
    document = openapi_document()
    if check:
        if not OPENAPI_PATH.exists() or OPENAPI_PATH.read_text(encoding="utf-8") != document:
            err.print(f"[red]{OPENAPI_PATH} is stale[/red]: run `nudge openapi`")
            raise typer.Exit(1)
        out.print("openapi.yaml is up to date")
        return
    OPENAPI_PATH.parent.mkdir(parents=True, exist_ok=True)
    OPENAPI_PATH.write_text(document, encoding="utf-8")
    out.print(f"wrote {OPENAPI_PATH}")


@app.command("llm")
def llm_serve(
    port: Annotated[int | None, typer.Option(help="port (NUDGE_EMBEDDED_LLM_PORT)")] = None,
) -> None:
    """Serve the embedded LLM alone (OpenAI-compatible) until interrupted."""
    from ml.serving.llm.embedded_server import main as serve

    settings = _settings()
    serve(
        [
            "--port",
            str(port or settings.embedded_llm_port),
            "--threads",
            str(settings.embedded_llm_threads),
        ]
    )


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
