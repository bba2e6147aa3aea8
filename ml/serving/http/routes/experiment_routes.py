"""A/B experiments: their variants, and how each variant's tips fared."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from sqlalchemy import Connection, Engine, case, func, select

from ml.serving.http.auth import Caller, CallerDependency, require_service
from ml.serving.http.schemas import ExperimentOut, ExperimentReport, VariantOut, VariantReport
from ml.serving.prompts.experiments import Experiment, Experiments
from nudge_infra.errors import NotFound
from nudge_infra.percentiles import between, neighbours
from nudge_infra.storage.tables import tip_feedback, tips

ExperimentName = Annotated[
    str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="an experiment name")
]
_REACTIONS = ("done", "snooze", "dismiss")


def make_router(
    experiments: Experiments,
    engine: Engine,
    caller: CallerDependency,
    flush_served: Callable[[], object],
) -> APIRouter:
    """``flush_served`` writes the serves this process counted in memory, before a report."""
    router = APIRouter(prefix="/v1", tags=["experiments"])

    @router.get("/experiments", response_model=list[ExperimentOut])
    def list_experiments(who: Caller = Depends(caller)) -> list[ExperimentOut]:
        """The experiments of the experiments file (at most one enabled). Service credential."""
        require_service(who)
        return [
            ExperimentOut(
                name=e.name,
                description=e.description,
                enabled=e.enabled,
                variants=_variants(e),
            )
            for e in experiments.all
        ]

    @router.get("/experiments/{name}", response_model=ExperimentReport)
    def report(name: ExperimentName, who: Caller = Depends(caller)) -> ExperimentReport:
        """Per variant: tips written and served, reaction rates, fallback rate, latency."""
        require_service(who)
        declared = experiments.get(name)
        flush_served()
        rows = variant_stats(engine, name)
        if declared is None and not rows:
            raise NotFound("experiment", name)
        configured = {v.name: v for v in _variants(declared)} if declared else {}
        names = list(configured) + sorted(set(rows) - set(configured))
        return ExperimentReport(
            name=name,
            description=declared.description if declared else "",
            enabled=declared.enabled if declared else False,
            variants=[
                _report(
                    configured.get(v)
                    or VariantOut(name=v, weight=0, share=0.0, prompt=None, model=None),
                    rows.get(v),
                )
                for v in names
            ],
        )

    return router


def _variants(experiment: Experiment) -> list[VariantOut]:
    total = experiment.total_weight
    return [
        VariantOut(
            name=v.name,
            weight=v.weight,
            share=round(v.weight / total, 4),
            prompt=v.prompt,
            model=v.model,
        )
        for v in experiment.variants
    ]


class _Stats:
    def __init__(self) -> None:
        self.tips = self.served = self.users = self.fallbacks = 0
        self.reactions = dict.fromkeys(_REACTIONS, 0)
        self.latency_ms: dict[str, float | None] = {"p50": None, "p95": None}


def variant_stats(engine: Engine, experiment: str) -> dict[str, _Stats]:
    """Read the experiment's tips and reactions, grouped by variant.

    The latency percentiles are read from the database by rank (two rows each), so a
    report never loads an experiment's latencies into this process.
    """
    stats: dict[str, _Stats] = defaultdict(_Stats)
    timed: dict[str, int] = {}
    with engine.connect() as conn:
        for variant, count, served, users, fallbacks, with_latency in conn.execute(
            select(
                tips.c.variant,
                func.count(),
                func.sum(tips.c.serve_count),
                func.count(tips.c.user_id.distinct()),
                func.sum(case((tips.c.fallback, 1), else_=0)),
                func.count(tips.c.total_ms),
            )
            .where(tips.c.experiment == experiment)
            .group_by(tips.c.variant)
        ):
            s = stats[variant]
            s.tips, s.served, s.users, s.fallbacks = count, served or 0, users, fallbacks or 0
            timed[variant] = with_latency
        for variant, reaction, count in conn.execute(
            select(tips.c.variant, tip_feedback.c.reaction, func.count())
            .join(tip_feedback, tip_feedback.c.tip_id == tips.c.tip_id)
            .where(tips.c.experiment == experiment)
            .group_by(tips.c.variant, tip_feedback.c.reaction)
        ):
            stats[variant].reactions[reaction] = count
        for variant, count in timed.items():
            if count:
                stats[variant].latency_ms = {
                    f"p{q}": _latency_percentile(conn, experiment, variant, count, q)
                    for q in (50, 95)
                }
    return dict(stats)


def _latency_percentile(
    conn: Connection, experiment: str, variant: str, count: int, q: int
) -> float:
    """The ``q``-th percentile of the variant's ``count`` tip latencies, from the two
    ranks it lies between (ix_tips_experiment_variant_total_ms orders them)."""
    low, high, weight = neighbours(count, q)
    lower, *upper = conn.scalars(
        select(tips.c.total_ms)
        .where(
            tips.c.experiment == experiment,
            tips.c.variant == variant,
            tips.c.total_ms.is_not(None),
        )
        .order_by(tips.c.total_ms)
        .offset(low)
        .limit(high - low + 1)
    ).all()
    return round(between(lower, upper[-1] if upper else lower, weight), 2)


def _report(variant: VariantOut, stats: _Stats | None) -> VariantReport:
    s = stats or _Stats()

    def rate(n: int) -> float:
        return round(n / s.tips, 4) if s.tips else 0.0

    return VariantReport(
        **variant.model_dump(),
        tips=s.tips,
        served=s.served,
        users=s.users,
        reactions=s.reactions,
        done_rate=rate(s.reactions["done"]),
        snooze_rate=rate(s.reactions["snooze"]),
        dismiss_rate=rate(s.reactions["dismiss"]),
        fallback_rate=rate(s.fallbacks),
        latency_ms=s.latency_ms,
    )
