"""A Nudge on SQLite with the demo users, swept, talking to the run's embedded LLM.

Shared by the benchmarks that call the model, so that they all send the prompt the
orchestrator really builds for ``alice``.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bench.context import BenchContext, bench_settings
from bench.product import UNLIMITED
from ml.serving.llm.litellm_client import LiteLLMClient
from ml.serving.llm.model_list import ModelList, load_model_list
from nudge.bootstrap import bootstrap
from nudge.demo.seed import seed_demo
from nudge.runtime import Nudge
from nudge.settings import Settings
from nudge_infra.clock import utc_now

USER = "alice"
SEED = 42  # llama.cpp honours `seed`; with temperature 0 decoding is greedy anyway


@dataclass
class DemoNudge:
    nudge: Nudge
    client: LiteLLMClient
    litellm: Any
    now: datetime
    settings: Settings


def with_seed(models: ModelList, seed: int) -> ModelList:
    """The same model list, every alias passing ``seed`` through to the server."""
    data = models.model_dump()
    for entry in data["model_list"]:
        entry["litellm_params"]["seed"] = seed
    return ModelList.model_validate(data)


def demo_nudge(ctx: BenchContext) -> DemoNudge:
    found: DemoNudge | None = ctx.shared.get("demo_nudge")
    if found is not None:
        return found
    server = ctx.embedded_llm()
    settings = bench_settings(
        ctx.tmpdir("demo-"),
        llm_temperature=0.0,
        tip_rate_limit=UNLIMITED,  # the benchmark times tips; the limiter would refuse them
    )
    if settings.database_url is not None:
        raise RuntimeError("the demo Nudge must run on SQLite")
    models = load_model_list(
        settings.litellm_config, substitutions={"embedded_llm": server.base_url}
    )
    client = LiteLLMClient(with_seed(models, SEED))
    client.prepare()  # LiteLLM's import (about 2 s) is not what these benchmarks measure
    litellm = importlib.import_module("litellm")  # already imported, offline, by prepare()
    # A frozen clock: the prompt's "Now:" line cannot roll over to the next hour mid-run.
    now = utc_now()
    nudge = bootstrap(settings, clock=lambda: now, llm=client)
    seed_demo(nudge, now)
    nudge.sweeper.sweep_all()
    found = DemoNudge(nudge, client, litellm, now, settings)
    ctx.shared["demo_nudge"] = found
    ctx.on_close(nudge.stop)
    return found


async def capture_completion_kwargs(
    litellm: Any, call: Callable[[], Awaitable[Any]]
) -> dict[str, Any]:
    """Run ``call`` and return the keyword arguments it passed to ``litellm.acompletion``.

    The recorder replaces the module attribute for this one call only; measurements
    run against the untouched function.
    """
    captured: list[dict[str, Any]] = []
    original = litellm.acompletion

    async def recording(**kwargs: Any) -> Any:
        captured.append(copy.deepcopy(kwargs))
        return await original(**kwargs)

    litellm.acompletion = recording
    try:
        await call()
    finally:
        litellm.acompletion = original
    if len(captured) != 1:
        raise RuntimeError(
            f"expected one LLM call from the tip, saw {len(captured)} "
            "(no eligible agents, or a retry?)"
        )
    return captured[0]


def completion_tokens(response: Any) -> int:
    usage = getattr(response, "usage", None)
    return int(getattr(usage, "completion_tokens", 0) or 0)


def decode_rate(response: Any) -> float | None:
    """llama.cpp's own decode speed (tokens/s, prompt processing excluded), if reported."""
    timings = getattr(response, "timings", None)
    if isinstance(timings, dict):
        value = timings.get("predicted_per_second")
        return float(value) if value else None
    return None
