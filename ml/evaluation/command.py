"""``nudge eval``: run the scenarios on a throw-away Nudge, print, log to MLflow, compare."""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from ml.evaluation.dataset import DEFAULT_SCENARIOS, DatasetError, Scenario, load_scenarios
from ml.evaluation.harness import run_eval
from ml.evaluation.report import compare as compare_runs
from ml.evaluation.report import metrics_table, scenario_table
from ml.evaluation.results import EvalRun, eval_document, prompt_label
from ml.evaluation.scenario_clock import SettableClock
from ml.evaluation.scenario_result import ScenarioResult
from ml.evaluation.throwaway import throwaway_settings
from ml.evaluation.tracking import log_run
from ml.serving.llm.embedded_server import EmbeddedLLMError
from ml.serving.llm.port import LLMClient, LLMError
from ml.serving.tip.prompt import DEFAULT_PROMPT, PromptError, PromptTemplate
from nudge.settings import Settings

if TYPE_CHECKING:
    from nudge.runtime import Nudge

PromptLoader = Callable[[str | None], PromptTemplate]
"""Load a prompt version ("3"), alias ("@production"), or the served one (None)."""

# Per-sweep INFO lines would interleave with the progress bar, hundreds of them.
_CHATTY_LOGGERS = ("ml.precompute.sweep",)


class InvalidInput(ValueError):
    """A command input that cannot be used; the message is one line for a person."""


def registry_loader(settings: Settings) -> PromptLoader:
    """Prompt versions from the MLflow Prompt Registry at ``settings.mlflow_uri``.

    Without a version: the one the served alias points at; a registry without that alias
    gets the shipped file registered first, as the service does at its first start.
    """

    def load(ref: str | None) -> PromptTemplate:
        from ml.serving.prompts.prompt_registry import LivePrompts, PromptRegistry, template_for

        registry = PromptRegistry(settings.mlflow_uri)
        shipped = settings.prompt_file or DEFAULT_PROMPT
        if ref is not None:
            return template_for(registry, settings.prompt_name, ref, shipped)
        served = LivePrompts(
            registry,
            name=settings.prompt_name,
            alias=settings.prompt_alias,
            shipped=shipped,
            refresh_s=settings.prompt_refresh_s,
        )
        served.refresh()
        if not served.status()["ok"]:
            raise PromptError(f"prompt registry: {served.status().get('error')}")
        return served.current()

    return load


def evaluate(
    settings: Settings,
    *,
    prompt_version: str | None,
    model: str | None,
    limit: int | None,
    compare: tuple[str, str] | None,
    judge: bool,
    console: Console,
    load_prompt: PromptLoader | None = None,
    llm: LLMClient | None = None,
    scenarios_path: Path = DEFAULT_SCENARIOS,
    json_path: Path | None = None,
    candidates: int | None = None,
) -> int:
    """Evaluate one prompt version (or two, with ``compare``); return the exit code.

    2: an input is invalid (nothing ran); 1: the embedded LLM did not start, or the runs
    finished but could not be logged to MLflow or written to ``json_path``.
    """
    try:
        if json_path is not None and json_path.is_dir():
            raise InvalidInput(f"--json {json_path} is a directory; give a file path")
        scenarios = _scenarios(scenarios_path, limit)
        prompts = _prompts(load_prompt or registry_loader(settings), prompt_version, compare)
    except InvalidInput as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        return 2
    tracking_uri = settings.mlflow_uri  # read before data_dir moves to the temporary one
    with tempfile.TemporaryDirectory(prefix="nudge-eval-") as tmp, _quiet(_CHATTY_LOGGERS):
        from nudge.bootstrap import bootstrap

        nudge = bootstrap(throwaway_settings(settings, Path(tmp)), clock=SettableClock(), llm=llm)
        try:
            alias = model or nudge.orchestrator.alias
            try:
                nudge.llm.resolve(alias)
            except LLMError as exc:
                console.print(f"[red]error:[/red] unknown model alias {alias!r}: {exc.message}")
                return 2
            try:
                nudge.start(scheduler=False)
            except EmbeddedLLMError as exc:
                console.print(f"[red]error:[/red] the embedded LLM did not start: {exc}")
                return 1
            # Signal-triggered refreshes would re-run agents on a background thread at
            # whatever time the clock shows by then; the harness runs them itself, at
            # each scenario's time.
            nudge.relay.stop()
            runs = asyncio.run(
                _run_all(nudge, scenarios, prompts, alias, judge, console, candidates)
            )
        finally:
            nudge.stop()
    code = _write_json(runs, json_path, console) if json_path is not None else 0
    return _publish(runs, tracking_uri, console) or code


def _write_json(runs: Sequence[EvalRun], path: Path, console: Console) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(eval_document(runs), indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        console.print(f"[red]error:[/red] could not write {escape(str(path))}: {exc.strerror}")
        return 1
    console.print(f"wrote {escape(str(path))}")
    return 0


def _scenarios(path: Path, limit: int | None) -> list[Scenario]:
    if limit is not None and limit < 1:
        raise InvalidInput(f"--limit must be at least 1, got {limit}")
    try:
        scenarios = load_scenarios(path)
    except DatasetError as exc:
        more = f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
        raise InvalidInput(f"{exc.problems[0]}{more}") from None
    return scenarios[:limit] if limit is not None else scenarios


def _prompts(
    load: PromptLoader, version: str | None, compare: tuple[str, str] | None
) -> list[PromptTemplate]:
    refs: Sequence[str | None] = compare if compare is not None else (version,)
    prompts = []
    for ref in refs:
        try:
            prompts.append(load(ref))
        except PromptError as exc:
            raise InvalidInput(f"prompt version {ref!r}: {exc}") from None
        except Exception as exc:  # a registry failure of any kind is reported in one line
            raise InvalidInput(
                f"prompt version {ref!r} cannot be loaded: {type(exc).__name__}: {exc}"
            ) from None
    return prompts


async def _run_all(
    nudge: Nudge,
    scenarios: Sequence[Scenario],
    prompts: Sequence[PromptTemplate],
    alias: str,
    judge: bool,
    console: Console,
    candidates: int | None = None,
) -> list[EvalRun]:
    runs = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        for prompt in prompts:
            label = f"{prompt_label(prompt.name, prompt.version)} · {alias}"
            task = progress.add_task(escape(label), total=len(scenarios))

            def advance(_: ScenarioResult, task: TaskID = task) -> None:
                progress.advance(task)

            run = await run_eval(
                nudge,
                scenarios,
                prompt=prompt,
                alias=alias,
                judge=judge,
                progress=advance,
                candidates=candidates,
            )
            runs.append(run)
    return runs


def _publish(runs: Sequence[EvalRun], tracking_uri: str, console: Console) -> int:
    for run in runs:
        console.print(scenario_table(run))
        console.print(metrics_table(run))
    if len(runs) == 2:
        console.print(compare_runs(runs[0], runs[1]))
    code = 0
    for run in runs:
        try:
            run_id = log_run(tracking_uri, run)
        except Exception as exc:  # the results are printed above: say why they are not kept
            console.print(f"[red]error:[/red] could not log to MLflow at {tracking_uri}: {exc}")
            code = 1
            continue
        console.print(f"MLflow run {run_id} ({escape(run.params.label)}) at {tracking_uri}")
    return code


@contextmanager
def _quiet(names: Sequence[str]) -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
