"""What every `nudge` command shares: the consoles and reading the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console

from nudge.settings import Settings

if TYPE_CHECKING:
    from nudge.runtime import Nudge

out = Console()
err = Console(stderr=True)


def load_settings(**overrides: object) -> Settings:
    """The settings, or a one-line configuration error and exit code 2."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValueError as exc:
        err.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None


def boot(settings: Settings) -> Nudge:
    """``bootstrap(settings)``, or a one-line configuration error and exit code 2."""
    from ml.serving.prompts.experiments import ExperimentsError
    from ml.serving.tip.prompt import PromptError
    from nudge.bootstrap import bootstrap
    from nudge_profile.signal_kinds import SignalKindError

    try:
        return bootstrap(settings)
    except (ExperimentsError, PromptError, SignalKindError) as exc:
        err.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None
