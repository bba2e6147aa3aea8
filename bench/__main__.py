"""Run Nudge's benchmarks and print p50/p99 against a floor measured in the same run.

``python -m bench [--quick] [--only NAME[,NAME]] [--backend sqlite|postgres|both]``
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import time
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.context import DEFAULT_PG_URL, BenchContext
from bench.stats import fmt_target, render_table

# Run order: the two model benchmarks share one in-process LLM, stopped before the
# process benchmarks start theirs; memory reads the process cold_start left running.
BENCHMARKS = (
    "tip_vs_bare_llm",
    "context_fetch",
    "decode_schema",
    "cold_start",
    "memory",
    "load",
    "outage",
    "relay",
    "sweep_scale",
)
NOISY_SHARE = 0.10  # others using more than this share of the cores: figures are suspect
# Processes that work for a benchmark rather than compete with it.
HELPERS = {
    "context_fetch": ("postgres",),
    "relay": ("nats-server",),
    "sweep_scale": ("postgres", "nats-server"),
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    only = _names(args.only)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before anything imports it
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # LiteLLM leaves a logging task in every event loop it ran in; each loop's close then
    # logs "Task was destroyed but it is pending". Harmless here, and noisy.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    from bench import machine

    ctx = BenchContext(
        quick=args.quick,
        backends=("sqlite", "postgres") if args.backend == "both" else (args.backend,),
        pg_url=args.pg_url,
    )
    info = machine.facts()
    ctx.say(f"Nudge benchmarks{' (quick)' if args.quick else ''}: {', '.join(only)}")
    for line in machine.describe(info):
        ctx.say(line)
    busy_before = machine.busy_processes()
    waited = 0.0
    while busy_before and waited < args.wait_quiet:
        ctx.say(f"waiting for a quiet machine ({waited:.0f}/{args.wait_quiet:.0f} s)…")
        time.sleep(10)
        waited += 11
        busy_before = machine.busy_processes()
    _warn_busy(ctx, busy_before)
    started = time.perf_counter()
    results: dict[str, Any] = {}
    noisy_runs: list[str] = []
    failed = False
    try:
        for name in only:
            ctx.say(f"\n== {name} " + "=" * max(0, 70 - len(name)))
            t0 = time.perf_counter()
            meter = machine.CpuMeter(HELPERS.get(name, ()))
            try:
                module = importlib.import_module(f"bench.{name}")
                results[name] = module.run(ctx)
            except Exception as exc:
                failed = True
                ctx.say(f"{name} FAILED: {exc!r}")
                ctx.say(traceback.format_exc())
                results[name] = {"error": repr(exc)}
            others, helpers = meter.shares()
            results[name]["duration_s"] = round(time.perf_counter() - t0, 1)
            results[name]["other_processes_cpu_share"] = round(others, 3)
            results[name]["helper_processes_cpu_share"] = round(helpers, 3)
            noisy = others > NOISY_SHARE
            if noisy:
                noisy_runs.append(name)
            served = f", {'/'.join(HELPERS[name])} {helpers:.0%}" if name in HELPERS else ""
            ctx.say(
                f"({name}: {time.perf_counter() - t0:.1f} s; CPU used meanwhile by other "
                f"processes {others:.0%}{served}{': NOISY, re-run' if noisy else ''})"
            )
            if name == "decode_schema" or (
                name == "tip_vs_bare_llm" and "decode_schema" not in only
            ):
                ctx.stop_embedded_llm()
    finally:
        ctx.close()
    busy_after = machine.busy_processes()
    total = time.perf_counter() - started
    ctx.say("\n== summary " + "=" * 62)
    rows = [
        [c.benchmark, c.metric, f"{c.value:.3g}", fmt_target(c.target, c.goal), c.verdict]
        for c in ctx.checks
    ]
    ctx.say(render_table(["benchmark", "metric", "value", "target", "verdict"], rows))
    for skipped in ctx.skipped:
        ctx.say(f"skipped: {skipped}")
    if noisy_runs:
        ctx.say(
            f"warning: other processes used more than {NOISY_SHARE:.0%} of the CPU during "
            f"{', '.join(noisy_runs)}: re-run them (e.g. --only {','.join(noisy_runs)})"
        )
    ctx.say(f"total {total:.0f} s")
    _warn_busy(ctx, busy_after, when="at the end")
    document = {
        "finished_at": datetime.now(UTC).isoformat(),
        "command": [sys.executable, "-m", "bench", *(argv if argv is not None else sys.argv[1:])],
        "quick": args.quick,
        "machine": info,
        "busy_processes": {"before": busy_before, "after": busy_after},
        "checks": [c.as_dict() for c in ctx.checks],
        "skipped": ctx.skipped,
        "noisy": noisy_runs,
        "results": results,
        "duration_s": round(total, 1),
    }
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    ctx.say(f"results: {out}")
    if failed:
        return 2
    return 1 if args.strict and not all(c.ok for c in ctx.checks) else 0


def _parser() -> argparse.ArgumentParser:
    from nudge.settings import REPO_ROOT

    parser = argparse.ArgumentParser(
        prog="python -m bench", description=(__doc__ or "").split("\n", 1)[0]
    )
    parser.add_argument("--quick", action="store_true", help="fewer samples, smaller data")
    parser.add_argument(
        "--only", default="", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}"
    )
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgres", "both"),
        default="both",
        help="databases for context_fetch (default: both)",
    )
    parser.add_argument(
        "--pg-url",
        default=DEFAULT_PG_URL,
        help=f"Postgres for context_fetch; a private schema is created and dropped "
        f"(default: {DEFAULT_PG_URL})",
    )
    parser.add_argument(
        "--json", default=str(REPO_ROOT / ".nudge" / "bench" / "latest.json"), help="results file"
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="first wait up to this long for other CPU-heavy processes to finish",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    return parser


def _names(only: str) -> list[str]:
    if not only:
        return list(BENCHMARKS)
    wanted = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in BENCHMARKS]
    if unknown:
        raise SystemExit(
            f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}"
        )
    return [n for n in BENCHMARKS if n in wanted]


def _warn_busy(ctx: BenchContext, busy: list[dict[str, Any]], when: str = "before the run") -> None:
    for p in busy:
        ctx.say(f"warning: busy {when}: pid {p['pid']} at {p['cpu_pct']}% CPU: {p['cmd']}")
    if busy:
        ctx.say("warning: another process competes for the CPU; figures may be noisy")


if __name__ == "__main__":
    raise SystemExit(main())
