"""One arm of a simulation: synthetic users live through the product on a simulated clock.

Each user opens the app three times a (local) day. Before each visit the signals their
world produced since the last one are ingested through the product's signal store, every
agent runs for them (the sweep a scheduler would have run), and the orchestrator makes
their tip with the arm's policy. The user answers as their hidden taste says; a done item
is finished in their world too (their task app sends ``done: true``). Everything goes
through the same code as production: signal store, sweeps, eligibility, policy,
orchestrator, feedback. Only the clock and the model are stand-ins.
"""

from __future__ import annotations

import heapq
import itertools
import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Literal

from ml.evaluation.off_policy import Logged
from ml.evaluation.policy_eval import logged_contexts, logged_decisions, true_acceptance
from ml.evaluation.scenario_clock import SettableClock
from ml.evaluation.simulation.oracle import OraclePolicy
from ml.evaluation.simulation.people import Reaction, SimUser, population
from ml.evaluation.simulation.routine import SimSignal
from ml.evaluation.simulation.tastes import acceptance
from ml.evaluation.throwaway import throwaway_settings
from ml.serving.llm.port import LLMClient
from ml.serving.tip.bandits import POLICY_NAMES, PolicyName, make_policy
from ml.serving.tip.orchestrator import Orchestrator
from ml.serving.tip.policy import Policy, PolicyConfig
from ml.serving.tip.policy_record import candidates_from_record
from ml.serving.tip.reactions import Reaction as Feedback
from ml.serving.tip.tip_store import TipHead
from nudge.bootstrap import bootstrap
from nudge.runtime import Nudge
from nudge.settings import Settings
from nudge_profile.signals import SignalIn

Arm = Literal["learned", "static", "oracle"]
ARMS: tuple[Arm, ...] = ("learned", "static", "oracle")
VISITS = (time(8, 30), time(12, 30), time(18, 30))
"""When a user opens the app, local time: one visit per daypart."""
START = date(2026, 3, 23)
"""A Monday: the first week crosses the clock change in Europe (29 March)."""


@dataclass(frozen=True, slots=True)
class SimConfig:
    users: int
    days: int
    seed: int
    top_k: int = 2
    epsilon: float = 0.1
    policy: PolicyName = "bayes-ucb"
    """The learned arm's policy."""


@dataclass(slots=True)
class ArmResult:
    arm: Arm
    visits_by_day: list[int]
    done_by_day: list[int]
    done_item_repeats: int = 0
    fallbacks: int = 0
    logs: list[Logged] = field(default_factory=list)
    """Per stored tip: the policy's lead, its propensity, whether it was done."""
    tip_acceptance: float = 0.0
    """Share of the arm's stored tips marked done."""
    counterfactual: dict[str, float] = field(default_factory=dict)
    """Per policy, its expected acceptance on this arm's logged tips, from the hidden
    tastes: the truth an off-policy estimate from these logs is checked against."""

    @property
    def acceptance_by_day(self) -> list[float]:
        return [
            d / v if v else 0.0 for d, v in zip(self.done_by_day, self.visits_by_day, strict=True)
        ]


@dataclass(order=True, slots=True)
class _Visit:
    at: datetime
    user: int
    day: int


def _visits(users: Sequence[SimUser], days: int) -> list[_Visit]:
    visits = [
        _Visit(
            datetime.combine(START + timedelta(days=d), t, tzinfo=u.timezone).astimezone(UTC), i, d
        )
        for i, u in enumerate(users)
        for d in range(days)
        for t in VISITS
    ]
    return sorted(visits)


def _local(day: date, at: time, user: SimUser) -> datetime:
    return datetime.combine(day, at, tzinfo=user.timezone)


def _policy(arm: Arm, config: SimConfig) -> Policy | OraclePolicy:
    policy_config = PolicyConfig(top_k=config.top_k, epsilon=config.epsilon)
    if arm == "oracle":
        return OraclePolicy(policy_config)
    return make_policy(config.policy if arm == "learned" else "static", policy_config)


class _Life:
    """The users' worlds as the product sees them: signals arrive at their time."""

    def __init__(self, nudge: Nudge, users: Sequence[SimUser]) -> None:
        self.nudge, self.users = nudge, users
        self.fetched = [-1] * len(users)
        self.pending: list[list[tuple[datetime, int, SimSignal]]] = [[] for _ in users]
        self.closed: list[set[str]] = [set() for _ in users]
        self._tie = itertools.count()

    def deliver(self, i: int, day: int, now: datetime) -> None:
        """Ingest what user ``i``'s world sent up to ``now``."""
        user = self.users[i]
        while self.fetched[i] < day:
            self.fetched[i] += 1
            for s in user.world.signals_for_day(START + timedelta(days=self.fetched[i])):
                self.add(i, [s])
        due = []
        while self.pending[i] and self.pending[i][0][0] <= now:
            due.append(heapq.heappop(self.pending[i])[2])
        if due:
            batch = [SignalIn(kind=s.kind, external_id=s.external_id, payload=s.payload,
                              occurred_at=s.occurred_at) for s in due]  # fmt: skip
            for start in range(0, len(batch), 100):
                self.nudge.signals.ingest(user.user_id, batch[start : start + 100])

    def add(self, i: int, signals: Sequence[SimSignal]) -> None:
        for s in signals:
            heapq.heappush(self.pending[i], (s.occurred_at, next(self._tie), s))


async def run_arm(
    arm: Arm,
    config: SimConfig,
    settings: Settings,
    llm: LLMClient | None,
    progress: Callable[[int], None] | None = None,
) -> ArmResult:
    """Run every user of ``config`` through the product with the ``arm``'s policy."""
    with tempfile.TemporaryDirectory(prefix=f"nudge-sim-{arm}-") as tmp:
        clock = SettableClock(datetime.combine(START, time(0), tzinfo=UTC))
        nudge = bootstrap(throwaway_settings(settings, Path(tmp)), clock=clock, llm=llm)
        try:
            nudge.start_llm()
            return await _live(arm, config, nudge, clock, progress)
        finally:
            nudge.stop()


async def _live(
    arm: Arm,
    config: SimConfig,
    nudge: Nudge,
    clock: SettableClock,
    progress: Callable[[int], None] | None,
) -> ArmResult:
    registry = nudge.registry.current
    agent_ids = sorted(a.id for a in registry.enabled())
    users = population(config.users, config.seed, agent_ids, START)
    consents = sorted({key for a in registry.enabled() for key in a.consents})
    for user in users:
        nudge.profiles.upsert_user(user.user_id, timezone=user.timezone.key)
        for key in consents:
            nudge.profiles.set_consent(user.user_id, key, True, agents_requiring=lambda _: [])
    policy = _policy(arm, config)
    orchestrator = Orchestrator(
        tips=nudge.tips,
        registry=lambda: nudge.registry.current,
        llm=nudge.llm,
        prompt=nudge.prompts.current,
        clock=clock,
        config=nudge.orchestrator.config,
        policy=policy,
    )
    life = _Life(nudge, users)
    result = ArmResult(arm, [0] * config.days, [0] * config.days)
    for visit in _visits(users, config.days):
        clock.set(visit.at)
        user = users[visit.user]
        life.deliver(visit.user, visit.day, visit.at)
        for agent_id in agent_ids:
            nudge.sweeper.sweep_users(agent_id, [user.user_id])
        if isinstance(policy, OraclePolicy):
            policy.at(user, visit.at)
        # A simulated user reads the tip for their inputs now, as if the model were instant.
        served = await orchestrator.tip_for(user.user_id, wait=math.inf, stale_ok=False)
        reaction = _answer(nudge, life, visit, served.tip, result)
        result.visits_by_day[visit.day] += 1
        result.done_by_day[visit.day] += reaction.kind == "done"
        if progress is not None:
            progress(1)
    clock.set(clock() + timedelta(days=2))  # past the answer window: unanswered = ignored
    nudge.tips.settle(clock())
    result.logs = logged_decisions(nudge.engine)
    result.tip_acceptance = true_acceptance(nudge.engine)
    result.counterfactual = _counterfactual(nudge, users, policy.config)
    return result


def _counterfactual(
    nudge: Nudge, users: Sequence[SimUser], config: PolicyConfig
) -> dict[str, float]:
    """What each policy would have earned on the logged tips, by the users' true tastes."""
    by_id = {u.user_id: u for u in users}
    targets: dict[str, Policy] = {name: make_policy(name, config) for name in POLICY_NAMES}
    totals = dict.fromkeys((*targets, "logged"), 0.0)
    rows = 0
    for user_id, created_at, record in logged_contexts(nudge.engine):
        user = by_id[user_id]
        hour, candidates = user.local_hour(created_at), candidates_from_record(record)
        rows += 1
        totals["logged"] += acceptance(user.taste, record["lead"], hour)
        for name, target in targets.items():
            chances = target.lead_probabilities(candidates)
            totals[name] += sum(p * acceptance(user.taste, a, hour) for a, p in chances.items())
    return {name: total / rows if rows else 0.0 for name, total in totals.items()}


def _answer(nudge: Nudge, life: _Life, visit: _Visit, tip: TipHead, result: ArmResult) -> Reaction:
    """The user reads the tip and answers it as their taste says."""
    i, now = visit.user, visit.at
    user, closed = life.users[i], life.closed[i]
    if {item["ref"] for item in tip.items} & closed:
        result.done_item_repeats += 1
    result.fallbacks += tip.fallback
    lead = tip.agents[0] if tip.agents else None
    reaction = user.react(agent_id=lead, at=now, is_fallback_nothing=not tip.agents)
    if reaction.kind == "ignore":
        return reaction
    kinds: dict[str, Feedback] = {"done": "done", "dismiss": "dismiss", "snooze": "snooze"}
    kind = kinds[reaction.kind]
    until = now + timedelta(hours=reaction.snooze_hours or 0) if kind == "snooze" else None
    nudge.tips.record_feedback(
        tip.tip_id,
        kind,
        until,
        now,
        registry=nudge.registry.current,
    )
    if kind == "done":
        for item in tip.items:
            closed.add(item["ref"])
            ref = item["ref"].rsplit(":", 1)[0] if item["ref"].startswith("habit:") else item["ref"]
            life.add(i, user.world.complete(ref, now + timedelta(minutes=1)))
    return reaction


def arms_population(config: SimConfig, agent_ids: Sequence[str]) -> list[SimUser]:
    """The users every arm sees (same seed, same tastes, same worlds)."""
    return population(config.users, config.seed, agent_ids, START)
