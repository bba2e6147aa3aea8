"""Precompute sweeps run from the terminal: a progress bar per agent, then a report table."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nudge.cli.terminal import err, out

if TYPE_CHECKING:
    from ml.precompute.sweep import SweepReport
    from nudge.runtime import Nudge


def sweep_with_progress(nudge: Nudge, agent: str | None) -> list[SweepReport]:
    """Sweep ``agent`` (or every enabled agent) for all active users, showing progress."""
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
    _print_reports(reports)
    return reports


def _print_reports(reports: list[SweepReport]) -> None:
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
