"""`nudge token`, `seed-demo`, `sweep`, `migrate` and `openapi`: one-off jobs an operator runs."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer
import yaml

from nudge.cli.sweep_progress import sweep_with_progress
from nudge.cli.terminal import boot, err, load_settings, out
from nudge.settings import REPO_ROOT, Settings

OPENAPI_PATH = REPO_ROOT / "openapi" / "openapi.yaml"


def token(
    user_id: Annotated[str, typer.Argument(help="the user the token acts for")],
    ttl: Annotated[int, typer.Option(min=60, max=30 * 86400, help="lifetime in seconds")] = 3600,
    admin: Annotated[bool, typer.Option(help="add the admin scope")] = False,
) -> None:
    """Print a signed user token (JWT) for USER_ID, for trying the API as that user."""
    from datetime import timedelta

    nudge = boot(load_settings(embedded_llm=False))
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


def seed_demo_cmd() -> None:
    """Create (or refresh) the demo users and their signals."""
    from nudge.demo.seed import seed_demo

    nudge = boot(load_settings(embedded_llm=False))
    out.print(f"seeded: {', '.join(seed_demo(nudge, nudge.clock()))}")
    nudge.stop()


def sweep(
    agent: Annotated[str | None, typer.Option(help="only this agent id")] = None,
) -> None:
    """Run precompute sweeps now, for all active users."""

    nudge = boot(load_settings(embedded_llm=False))
    try:
        if agent is not None and nudge.registry.current.get(agent) is None:
            known = ", ".join(sorted(nudge.registry.current.agents))
            err.print(f"[red]unknown agent {agent!r}[/red]; known: {known}")
            raise typer.Exit(1)
        reports = sweep_with_progress(nudge, agent)
    finally:
        nudge.stop()
    if any(r.status not in ("ok", "disabled") for r in reports):
        raise typer.Exit(1)


def migrate() -> None:
    """Bring the database schema up to date."""
    from nudge_infra.storage.engine import make_engine
    from nudge_infra.storage.engine import migrate as run_migrations

    settings = load_settings()
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
