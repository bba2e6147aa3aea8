"""The `nudge` command."""

from __future__ import annotations

import sys

import typer

from nudge.cli.admin_commands import (
    OPENAPI_PATH,
    migrate,
    openapi,
    openapi_document,
    seed_demo_cmd,
    sweep,
    token,
)
from nudge.cli.agent_commands import agents_app
from nudge.cli.learning_commands import eval_policy, simulate
from nudge.cli.process_commands import api, llm_serve, run, scheduler, worker
from nudge.cli.prompt_commands import prompts_app
from nudge.cli.tip_commands import eval_command, explain, replay

# Tests and the contract check read the OpenAPI document through this module.
__all__ = ["OPENAPI_PATH", "app", "main", "openapi_document"]

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Nudge: one explainable tip per user."
)
# `nudge --help` lists the commands in the order they are registered, then the groups.
app.add_typer(agents_app, name="agents")
app.add_typer(prompts_app, name="prompts")
app.command()(explain)
app.command()(replay)
eval_app = typer.Typer(
    invoke_without_command=True, help="Evaluate tips (scenarios) or a policy (logged tips)."
)
eval_app.callback()(eval_command)
eval_app.command("policy")(eval_policy)
app.add_typer(eval_app, name="eval")
app.command()(simulate)
app.command()(run)
app.command()(api)
app.command()(scheduler)
app.command()(worker)
app.command()(token)
app.command("seed-demo")(seed_demo_cmd)
app.command()(sweep)
app.command()(migrate)
app.command()(openapi)
app.command("llm")(llm_serve)


def main() -> None:
    """Run the `nudge` command; Ctrl-C exits with 130 and no traceback."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
