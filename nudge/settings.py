"""The one place that knows which environment variables Nudge reads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Nudge's configuration. Every field can be set as ``NUDGE_<FIELD>``; the database
    and bus URLs also as the conventional ``DATABASE_URL`` / ``NATS_URL``."""

    model_config = SettingsConfigDict(env_prefix="NUDGE_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path(".nudge")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    keepalive_s: int = Field(
        default=75,
        ge=1,
        le=3600,
        description="how long an idle HTTP connection stays open; above the gateway's own "
        "idle timeout, so the gateway never reuses a connection the server is closing",
    )

    database_url: str | None = Field(
        default=None, validation_alias="DATABASE_URL", description="Postgres URL; SQLite when unset"
    )
    nats_url: str | None = Field(default=None, validation_alias="NATS_URL")
    redis_url: SecretStr | None = Field(
        default=None,
        validation_alias="REDIS_URL",
        description="Redis URL; the tip rate limit is shared by every API process through it "
        "(per process when unset)",
    )

    manifests_dir: Path = REPO_ROOT / "manifests"
    signal_kinds_dir: Path = Field(
        default=REPO_ROOT / "manifests" / "signal-kinds",
        description="one YAML file per signal kind: its payload's JSON Schema, an example, "
        "its retention",
    )
    agent_packages: Annotated[tuple[str, ...], NoDecode] = ("ml.agents",)
    watch_manifests: bool = True

    litellm_config: Path = REPO_ROOT / "config" / "litellm.yaml"
    embedded_llm: bool = True
    embedded_llm_port: int = Field(default=8088, ge=1, le=65535)
    embedded_llm_threads: int = Field(default=2, ge=1, le=64)
    embedded_llm_nice: int = Field(default=0, ge=0, le=19)
    llm_timeout_s: float = Field(default=30.0, gt=0, le=300)
    llm_retries: int = Field(default=1, ge=0, le=5)
    llm_max_tokens: int = Field(default=280, ge=16, le=2048)
    llm_temperature: float = Field(default=0.2, ge=0, le=2)
    llm_candidate_temperature: float = Field(
        default=0.7,
        ge=0,
        le=2,
        description="sampling temperature of the extra answers asked for after a refused one",
    )
    llm_retry_after_s: float = Field(
        default=120, ge=0, le=86_400, description="serve an LLM-failure fallback this long"
    )
    llm_breaker_failures: int = Field(
        default=5,
        ge=1,
        le=10_000,
        description="LLM failures within the window that open the circuit",
    )
    llm_breaker_window_s: float = Field(default=60, gt=0, le=86_400)
    llm_breaker_cooldown_s: float = Field(
        default=30, gt=0, le=86_400, description="how long an open circuit waits before a probe"
    )

    mlflow_tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "NUDGE_MLFLOW_TRACKING_URI"),
        description="MLflow tracking server (prompt registry, eval runs); SQLite when unset",
    )
    prompt_registry: Literal["mlflow", "file"] = Field(
        default="mlflow",
        description="mlflow: serve the alias's version from the registry; file: the repo's file",
    )
    prompt_file: Path | None = Field(
        default=None,
        description="the prompt source registered at first start and served with "
        "NUDGE_PROMPT_REGISTRY=file; default: ml/serving/prompts/tip-orchestrator.yaml",
    )
    prompt_name: str = Field(default="tip-orchestrator", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    prompt_alias: str = Field(
        default="production",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="the MLflow alias of the prompt version served",
    )
    prompt_refresh_s: float = Field(
        default=30, ge=0.05, le=3600, description="how often the prompt alias is looked up"
    )
    prompt_start_timeout_s: float = Field(
        default=30, ge=0, le=600, description="wait this long at start for the registry"
    )
    experiments_file: Path | None = Field(
        default=REPO_ROOT / "config" / "experiments.yaml",
        description="A/B experiments (YAML); none when unset or missing",
    )

    scheduler: bool = True
    sweep_batch_size: int = Field(
        default=2000,
        ge=1,
        le=10_000,
        description="users per sweep batch: one job and one write transaction each",
    )

    # Credentials. Unset outside production: generated once under data_dir (0600 files).
    gateway_token: SecretStr | None = None
    admin_token: SecretStr | None = None
    jwt_secret: SecretStr | None = None
    tip_rate_limit: str = Field(
        default="30/minute",
        description="tip requests per caller and user, e.g. 30/minute (N/second|minute|hour)",
    )
    tip_wait_s: float = Field(
        default=3.0,
        ge=0,
        le=30,
        description="how long a poll with no tip to show waits for the model before the fallback",
    )
    near_repeat_check: bool = Field(
        default=True,
        description="refuse a model's tip that nearly repeats one of the user's recent tips "
        "(the `embedder` alias; its threshold is model_info.near_repeat_cosine)",
    )
    near_repeat_recent: int = Field(
        default=5,
        ge=1,
        le=50,
        description="how many of the user's latest tips a tip is compared with",
    )
    near_repeat_cosine: float | None = Field(
        default=None, gt=0, le=1, description="overrides the embedder's near_repeat_cosine"
    )
    embed_timeout_s: float = Field(default=2.0, gt=0, le=60)
    tip_generations: int = Field(
        default=2, ge=1, le=64, description="tips written at once by one process"
    )

    policy: Literal["bayes-ucb", "thompson", "static"] = Field(
        default="bayes-ucb",
        description=(
            "how the snippets in a prompt are chosen: learned from reactions (bayes-ucb, "
            "thompson) or by priority (static)"
        ),
    )
    policy_top_k: int = Field(default=2, ge=1, le=8, description="snippets per prompt")
    policy_epsilon: float = Field(
        default=0.1, ge=0, le=1, description="share of tips whose order is drawn at random"
    )
    answer_window_h: float = Field(
        default=24, gt=0, le=24 * 30, description="a tip unanswered this long counts as ignored"
    )

    retention_days: int = Field(
        default=90, ge=1, le=3650, description="keep tips, provenance and feedback this long"
    )
    event_retention_days: int = Field(
        default=7, ge=1, le=365, description="keep published outbox events this long"
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", description="auto: text lines on a terminal, JSON lines otherwise"
    )

    max_request_bytes: int = Field(default=1_048_576, ge=1024)
    max_signals_per_batch: int = Field(default=500, ge=1, le=10_000)
    max_signal_payload_bytes: int = Field(default=16_384, ge=256)

    @field_validator("agent_packages", mode="before")
    @classmethod
    def _split_packages(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(p.strip() for p in value.split(",") if p.strip())
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.environment == "production":
            if self.database_url is None:
                raise ValueError("production needs DATABASE_URL (SQLite is for development)")
            if self.embedded_llm:
                raise ValueError(
                    "production must not start the embedded LLM (NUDGE_EMBEDDED_LLM=false)"
                )
            if self.gateway_token is None or self.jwt_secret is None:
                raise ValueError(
                    "production needs NUDGE_GATEWAY_TOKEN and NUDGE_JWT_SECRET "
                    "(credentials are generated only for development)"
                )
        for name in ("gateway_token", "admin_token", "jwt_secret"):
            secret = getattr(self, name)
            if secret is not None and len(secret.get_secret_value()) < 32:
                raise ValueError(f"NUDGE_{name.upper()} must be at least 32 characters")
        return self

    @field_validator("tip_rate_limit")
    @classmethod
    def _parse_rate(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a rate like 30/minute") from exc
        return value

    @property
    def mlflow_uri(self) -> str:
        """The MLflow tracking (and prompt registry) URI: a SQLite file beside the data."""
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.data_dir / 'mlflow.db').resolve()}"

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url is None:
            return f"sqlite:///{(self.data_dir / 'nudge.db').resolve()}"
        url = self.database_url
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url
