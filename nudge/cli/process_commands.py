"""`nudge run`, `api`, `scheduler`, `worker` and `llm`: the long-running processes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from nudge.cli.sweep_progress import sweep_with_progress
from nudge.cli.terminal import boot, err, load_settings, out
from nudge.credentials import GATEWAY_FILE

if TYPE_CHECKING:
    from fastapi import FastAPI

    from nudge.settings import Settings

Host = Annotated[str | None, typer.Option(help="listen address (NUDGE_HOST)")]
Port = Annotated[int | None, typer.Option(help="HTTP port (NUDGE_PORT)")]


def _logging(settings: Settings) -> None:
    from nudge_infra.logs import configure_logging

    # Lines are written by a thread, so a slow log reader never stalls the event loop;
    # beyond this many waiting, lines are dropped and counted.
    configure_logging(settings.log_level, settings.log_format, background=10_000)


def run(
    demo: Annotated[bool, typer.Option(help="seed the demo users alice and bob")] = True,
    host: Host = None,
    port: Port = None,
) -> None:
    """Run everything in one process: API, scheduler, precompute and the embedded LLM."""

    from nudge.bootstrap import build_app

    settings = load_settings()
    _logging(settings)
    nudge = boot(settings)
    if demo:
        from nudge.demo.seed import seed_demo

        seeded = seed_demo(nudge, nudge.clock())
        out.print(f"demo users: {', '.join(seeded)}")
    sweep_with_progress(nudge, None)
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


def api(host: Host = None, port: Port = None) -> None:
    """Serve HTTP only (with the outbox relay): schedulers and workers run elsewhere."""

    from nudge.bootstrap import build_app

    settings = load_settings()
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


def scheduler() -> None:
    """Enqueue sweep jobs at each agent's interval, and refresh jobs for new signals (NATS)."""
    from nudge.processes import run_scheduler

    settings = load_settings(embedded_llm=False)
    _logging(settings)
    _require_nats(settings)
    run_scheduler(settings)


def worker() -> None:
    """Pull sweep jobs from NATS JetStream and run them; run as many as you like."""
    from nudge.processes import run_worker

    settings = load_settings(embedded_llm=False)
    _logging(settings)
    _require_nats(settings)
    run_worker(settings)


def _require_nats(settings: Settings) -> None:
    if not settings.nats_url:
        err.print("error: NATS_URL is not set: scheduler and worker talk through JetStream")
        raise typer.Exit(2)


def llm_serve(
    port: Annotated[int | None, typer.Option(help="port (NUDGE_EMBEDDED_LLM_PORT)")] = None,
) -> None:
    """Serve the embedded LLM alone (OpenAI-compatible) until interrupted."""
    from ml.serving.llm.embedded_server import main as serve

    settings = load_settings()
    serve(
        [
            "--port",
            str(port or settings.embedded_llm_port),
            "--threads",
            str(settings.embedded_llm_threads),
        ]
    )
