"""`nudge prompts`: the orchestrator prompt's versions in the MLflow Prompt Registry."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from nudge.cli.terminal import err, load_settings, out

if TYPE_CHECKING:
    from ml.serving.prompts.prompt_registry import PromptRegistry

prompts_app = typer.Typer(
    no_args_is_help=True, help="Register prompt versions and move the alias that is served."
)

_ALIAS = r"^[A-Za-z0-9_-]{1,64}$"


def _registry() -> tuple[PromptRegistry, str]:
    from ml.serving.prompts.prompt_registry import PromptRegistry

    settings = load_settings()
    return PromptRegistry(settings.mlflow_uri), settings.prompt_name


def _fail(exc: Exception) -> typer.Exit:
    from ml.serving.tip.prompt import PromptError

    if isinstance(exc, PromptError):
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        return typer.Exit(2)
    err.print(f"[red]prompt registry error:[/red] {escape(type(exc).__name__)}: {escape(str(exc))}")
    return typer.Exit(1)


@prompts_app.command("push")
def push(
    file: Annotated[Path, typer.Argument(help="a prompt file, e.g. ml/serving/prompts/*.yaml")],
    alias: Annotated[
        str | None, typer.Option(help="point this alias at the version (e.g. production)")
    ] = None,
    message: Annotated[str | None, typer.Option(help="the version's commit message")] = None,
) -> None:
    """Register FILE as a new prompt version (nothing new if the latest is the same text)."""
    registry, _ = _registry()
    if alias is not None and not _valid_alias(alias):
        err.print(f"[red]error:[/red] alias {escape(alias)!r}: use letters, digits, _ or -")
        raise typer.Exit(2)
    try:
        pushed = registry.push(file, message=message, alias=alias)
    except Exception as exc:
        raise _fail(exc) from None
    verb = "registered" if pushed.created else "unchanged: the latest version is"
    out.print(f"{verb} {pushed.name} version {pushed.version}")
    if alias is not None:
        out.print(f"{alias} → version {pushed.version} (served within the refresh interval)")


@prompts_app.command("list")
def list_versions() -> None:
    """Every version of the prompt, newest first, with its aliases."""
    registry, name = _registry()
    try:
        versions = registry.versions(name)
    except Exception as exc:
        raise _fail(exc) from None
    if not versions:
        out.print(f"{name} has no version yet: `nudge prompts push FILE --alias production`")
        return
    table = Table("version", "aliases", "text digest", "registered", "message", title=name)
    for v in versions:
        registered = datetime.fromtimestamp(v.created_at_ms / 1000, UTC)
        table.add_row(
            v.version,
            ", ".join(v.aliases),
            v.digest[:12],
            registered.strftime("%Y-%m-%d %H:%M"),
            escape(v.message),
        )
    out.print(table)


@prompts_app.command("alias")
def set_alias(
    alias: Annotated[str, typer.Argument(help="e.g. production")],
    version: Annotated[str, typer.Argument(help="a registered version number")],
) -> None:
    """Point ALIAS at VERSION; running services follow within their refresh interval."""
    registry, name = _registry()
    if not _valid_alias(alias):
        err.print(f"[red]error:[/red] alias {escape(alias)!r}: use letters, digits, _ or -")
        raise typer.Exit(2)
    try:
        registry.set_alias(name, alias, version)
    except Exception as exc:
        raise _fail(exc) from None
    out.print(f"{name}@{alias} → version {version}")


@prompts_app.command("show")
def show(
    ref: Annotated[str, typer.Argument(help='a version ("3") or an alias ("@production")')],
) -> None:
    """Print one version's system text and user template."""
    registry, name = _registry()
    try:
        template = registry.load(name, ref)
    except Exception as exc:
        raise _fail(exc) from None
    out.print(f"[bold]{name} version {template.version}[/bold] (digest {template.digest[:12]})")
    out.print("[bold]system[/bold]")
    out.print(escape(template.system))
    out.print("[bold]user[/bold]")
    out.print(escape(template.source))


def _valid_alias(alias: str) -> bool:
    import re

    return re.fullmatch(_ALIAS, alias) is not None
