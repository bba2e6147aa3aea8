"""Small builders the composition root assembles: each turns settings into one part."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import Engine

from ml.precompute.refresh import LocalRefresh, RefreshTrigger
from ml.precompute.sweep import Sweeper
from ml.registry.watcher import LiveRegistry
from ml.serving.http.auth import Authenticator
from ml.serving.llm.alias_embedder import AliasEmbedder
from ml.serving.llm.embedded_server import EmbeddedLLM
from ml.serving.llm.litellm_client import LiteLLMClient
from ml.serving.llm.model_list import load_model_list
from ml.serving.llm.port import LLMClient
from ml.serving.prompts.experiments import Experiments, choose_arm
from ml.serving.prompts.prompt_registry import LivePrompts, PromptRegistry
from ml.serving.tip.bandits import make_policy
from ml.serving.tip.breaker import BreakerConfig, CircuitBreaker
from ml.serving.tip.llm_request import GenerationConfig
from ml.serving.tip.orchestrator import Orchestrator
from ml.serving.tip.policy import Policy, PolicyConfig
from ml.serving.tip.prompt import DEFAULT_PROMPT, Arm
from ml.serving.tip.repeat_guard import RepeatConfig, RepeatGuards
from ml.serving.tip.tip_lease import TipLeases
from ml.serving.tip.tip_store import TipStore
from nudge.credentials import Credentials, load_or_create
from nudge.settings import Settings
from nudge_infra.clock import Clock
from nudge_infra.events.bus import InProcessBus
from nudge_infra.events.jetstream import JetStreamPublisher
from nudge_infra.events.outbox import Topic
from nudge_profile.signal_kinds import SignalKinds
from nudge_profile.signals import SignalStore

log = logging.getLogger(__name__)


def build_embedded_llm(settings: Settings) -> EmbeddedLLM | None:
    if not settings.embedded_llm:
        return None
    return EmbeddedLLM(
        port=settings.embedded_llm_port,
        threads=settings.embedded_llm_threads,
        nice=settings.embedded_llm_nice,
    )


def build_llm_client(settings: Settings, embedded: EmbeddedLLM | None) -> LLMClient:
    """The client of the aliases file; ``{embedded_llm}`` there is the embedded server."""
    base = embedded.base_url if embedded else f"http://127.0.0.1:{settings.embedded_llm_port}/v1"
    models = load_model_list(settings.litellm_config, substitutions={"embedded_llm": base})
    return LiteLLMClient(models)


EMBEDDER = "embedder"


def build_repeat_guards(settings: Settings, embedded: EmbeddedLLM | None) -> RepeatGuards | None:
    """The near-repeat check: the ``embedder`` alias and its model's threshold. Off when
    the aliases file has no such alias or no threshold for it (said once, at start)."""
    if not settings.near_repeat_check:
        return None
    base = embedded.base_url if embedded else f"http://127.0.0.1:{settings.embedded_llm_port}/v1"
    models = load_model_list(settings.litellm_config, substitutions={"embedded_llm": base})
    if EMBEDDER not in models.aliases:
        log.warning("near-repeat check off: no %r alias in %s", EMBEDDER, settings.litellm_config)
        return None
    threshold = settings.near_repeat_cosine or models.entry(EMBEDDER).model_info.near_repeat_cosine
    if threshold is None:
        log.warning(
            "near-repeat check off: set model_info.near_repeat_cosine of %r in %s "
            "(or NUDGE_NEAR_REPEAT_COSINE)",
            EMBEDDER,
            settings.litellm_config,
        )
        return None
    config = RepeatConfig(
        EMBEDDER, threshold, recent=settings.near_repeat_recent, timeout_s=settings.embed_timeout_s
    )
    return RepeatGuards(AliasEmbedder(models), config)


def build_auth(settings: Settings, clock: Clock) -> tuple[Authenticator, Credentials]:
    credentials = load_or_create(settings)
    auth = Authenticator(
        gateway_tokens=[credentials.gateway_token],
        admin_tokens=[credentials.admin_token],
        jwt_secret=credentials.jwt_secret,
        clock=clock,
    )
    return auth, credentials


def build_bus(settings: Settings) -> InProcessBus | JetStreamPublisher:
    return JetStreamPublisher(settings.nats_url) if settings.nats_url else InProcessBus()


def build_prompts(settings: Settings, experiments: Experiments) -> LivePrompts:
    return LivePrompts(
        PromptRegistry(settings.mlflow_uri) if settings.prompt_registry == "mlflow" else None,
        name=settings.prompt_name,
        alias=settings.prompt_alias,
        shipped=settings.prompt_file or DEFAULT_PROMPT,
        refresh_s=settings.prompt_refresh_s,
        pinned=experiments.prompt_refs(),
    )


def generation_config(settings: Settings) -> GenerationConfig:
    return GenerationConfig(
        timeout_s=settings.llm_timeout_s,
        retries=settings.llm_retries,
        max_tokens=settings.llm_max_tokens,
        temperature=settings.llm_temperature,
        retry_failed_after=timedelta(seconds=settings.llm_retry_after_s),
        candidates=_candidates(settings),
        candidate_temperature=settings.llm_candidate_temperature,
    )


class _AnyPlaceholder(dict[str, str]):
    """Fills every ``{name}`` of the aliases file: only ``model_info`` is read here."""

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> str:
        return ""


def _candidates(settings: Settings) -> dict[str, int]:
    """Each alias's best-of-n from the aliases file (read again: the client may be a test's)."""
    models = load_model_list(settings.litellm_config, substitutions=_AnyPlaceholder())
    return {alias: models.candidates(alias) for alias in models.aliases}


def build_orchestrator(
    settings: Settings,
    *,
    tips: TipStore,
    registry: LiveRegistry,
    llm: LLMClient,
    prompts: LivePrompts,
    experiments: Experiments,
    clock: Clock,
    repeats: RepeatGuards | None = None,
) -> Orchestrator:
    config = generation_config(settings)
    local = tips.engine.dialect.name == "sqlite"

    def arm(user_id: str) -> Arm:
        return choose_arm(
            experiments.assign(user_id),
            default_prompt=prompts.current(),
            default_alias=config.alias,
            pinned=prompts.pinned,
        )

    return Orchestrator(
        tips=tips,
        registry=lambda: registry.current,
        llm=llm,
        prompt=prompts.current,
        clock=clock,
        config=config,
        arm=arm,
        policy=build_policy(settings),
        wait_s=settings.tip_wait_s,
        concurrent_generations=settings.tip_generations,
        # SQLite is the embedded mode's one process (ADR 0025): no other writes its tips.
        leases=None if local else TipLeases(tips.engine, clock, ttl=lease_ttl(settings)),
        repeats=repeats,
        read_inline=local,  # ADR 0027
        breaker=CircuitBreaker(
            BreakerConfig(
                failures=settings.llm_breaker_failures,
                window=timedelta(seconds=settings.llm_breaker_window_s),
                cooldown=timedelta(seconds=settings.llm_breaker_cooldown_s),
            ),
            clock,
        ),
    )


def lease_ttl(settings: Settings) -> timedelta:
    """Longer than a generation can take: a first answer and a best-of-n call, each with
    its retries and possibly asked again of a backup alias, and a margin."""
    calls = 2 * 2 * (settings.llm_retries + 1)
    return timedelta(seconds=calls * settings.llm_timeout_s + 10)


def build_policy(settings: Settings) -> Policy:
    config = PolicyConfig(top_k=settings.policy_top_k, epsilon=settings.policy_epsilon)
    return make_policy(settings.policy, config)


def build_local_refresh(
    bus: InProcessBus | JetStreamPublisher, sweeper: Sweeper, registry: LiveRegistry, clock: Clock
) -> LocalRefresh | None:
    """Embedded: a signal batch re-runs the agents that read it, here, right after commit.
    (Distributed, `nudge scheduler` turns SignalsIngested into jobs for the workers.)"""
    if not isinstance(bus, InProcessBus):
        return None
    local_refresh = LocalRefresh(sweeper.sweep_users)
    trigger = RefreshTrigger(lambda: registry.current, clock, local_refresh.submit)
    bus.subscribe(
        Topic.SIGNALS_INGESTED,
        lambda event: trigger.on_signals(event.payload["user_id"], event.payload["kinds"]),
    )
    return local_refresh


def build_signals(
    settings: Settings, engine: Engine, clock: Clock, kinds: SignalKinds
) -> SignalStore:
    return SignalStore(
        engine,
        clock,
        kinds,
        max_batch=settings.max_signals_per_batch,
        max_payload_bytes=settings.max_signal_payload_bytes,
    )
