"""The manifest an agent is declared with, as a validated, immutable model."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from datetime import timedelta
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from ml.agents.base import STATE_MAX_BYTES
from ml.agents.inference import get_inferrer
from ml.registry.durations import format_duration
from ml.registry.fields import (
    AgentId,
    ConsentKey,
    ContextName,
    Duration,
    EntrypointRef,
    ParamName,
    SignalKind,
    author_error,
)
from ml.registry.params import ParamSpec

__all__ = ["TEMPLATE_MAX_BYTES", "Manifest", "ParamSpec", "Schedule", "StateSpec"]

TEMPLATE_MAX_BYTES = 8 * 1024
MIN_EVERY = timedelta(minutes=1)
MIN_TIMEOUT = timedelta(milliseconds=100)
MAX_TIMEOUT = timedelta(seconds=60)
MAX_STATE_BYTES = 64 * 1024
DEFAULT_DISMISS_FOR = timedelta(days=7)

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


def _no_repeats(values: tuple[str, ...]) -> tuple[str, ...]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise author_error("repeated", f'"{value}" is listed twice')
        seen.add(value)
    return values


class Schedule(BaseModel):
    """How often the precompute sweep runs the agent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    every: Duration
    jitter: Duration = timedelta(0)

    @field_validator("every")
    @classmethod
    def _not_too_often(cls, value: timedelta) -> timedelta:
        if value < MIN_EVERY:
            raise author_error(
                "too_often", f"{format_duration(value)} is too often; the minimum is 1m"
            )
        return value

    @field_validator("jitter")
    @classmethod
    def _jitter_below_every(cls, value: timedelta, info: ValidationInfo) -> timedelta:
        every: timedelta | None = info.data.get("every")
        if every is not None and value >= every:
            raise author_error(
                "jitter",
                f"{format_duration(value)} must be shorter than every ({format_duration(every)})",
            )
        return value


class StateSpec(BaseModel):
    """How much per-user state the agent may keep, and whether a version bump resets it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_bytes: StrictInt = Field(STATE_MAX_BYTES, ge=1, le=MAX_STATE_BYTES)
    keep_across_versions: StrictBool = False


class Manifest(BaseModel):
    """One agent's declaration, read from manifests/<id>.yaml."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"oneOf": [{"required": ["entrypoint"]}, {"required": ["template"]}]},
    )

    # Declared in dependency order: a field validator sees only the fields above it,
    # which is how ttl is checked against schedule.
    id: AgentId = Field(description="Unique agent id; the file must be named <id>.yaml.")
    version: StrictInt = Field(
        ge=1, description="Bump it and stored outputs of older versions stop being used."
    )
    name: Text = Field(max_length=80)
    description: Text = Field(max_length=500)
    entrypoint: EntrypointRef | None = Field(
        None, description="module.path:ClassName of an Agent; give it or template, not both."
    )
    template: str | None = Field(
        None,
        max_length=TEMPLATE_MAX_BYTES,
        description="A Jinja template rendering the snippet; give it or entrypoint, not both.",
    )
    schedule: Schedule
    ttl: Duration = Field(description="An output older than this is never used; >= every.")
    consents: tuple[ConsentKey, ...] = Field(
        (), description="Consent keys the user must all have granted."
    )
    silenced_in: tuple[ContextName, ...] = Field(
        (), description="Active contexts (e.g. vacation) in which the agent is muted."
    )
    enabled: StrictBool = True
    priority: StrictInt = Field(50, ge=0, le=100, description="Higher is preferred.")
    timeout: Duration = Field(timedelta(seconds=5), description="From 100ms to 60s.")
    reads: tuple[SignalKind, ...] = Field((), description="Signal kinds the agent needs.")
    params: Mapping[ParamName, ParamSpec] = Field(
        default_factory=dict, json_schema_extra={"additionalProperties": False}
    )
    dismiss_for: Duration = Field(
        DEFAULT_DISMISS_FOR, description="How long a dismissed item stays hidden (1m to 365d)."
    )
    state: StateSpec = Field(default_factory=StateSpec)

    @field_validator("params")
    @classmethod
    def _inferrers_read_what_the_agent_reads(
        cls, value: Mapping[str, ParamSpec], info: ValidationInfo
    ) -> Mapping[str, ParamSpec]:
        # An inferrer sees only the signals the agent reads, under the agent's consents.
        reads = set(info.data.get("reads", ()))
        for name, spec in value.items():
            inferrer = get_inferrer(spec.infer) if spec.infer else None
            missing = [kind for kind in inferrer.reads if kind not in reads] if inferrer else []
            if missing:
                raise author_error(
                    "inferrer",
                    f"param {name} infers {spec.infer} from {', '.join(missing)}; "
                    f"add {', '.join(missing)} to reads",
                )
        return value

    @field_validator("dismiss_for")
    @classmethod
    def _dismiss_in_range(cls, value: timedelta) -> timedelta:
        if not timedelta(minutes=1) <= value <= timedelta(days=365):
            raise author_error(
                "dismiss_for", f"{format_duration(value)} is outside the allowed range 1m..365d"
            )
        return value

    @model_validator(mode="wrap")
    @classmethod
    def _one_implementation(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        # Checked on the raw input, and merged with the field errors, so an author sees
        # this mistake together with all the others instead of after fixing them.
        problem = _implementation_problem(data) if isinstance(data, Mapping) else None
        if problem is None:
            return handler(data)
        errors: list[InitErrorDetails] = []
        try:
            handler(data)
        except ValidationError as exc:
            errors = [_reraised(error) for error in exc.errors()]
        raise ValidationError.from_exception_data(cls.__name__, [*errors, problem])

    @field_validator("template")
    @classmethod
    def _template_fits(cls, value: str | None) -> str | None:
        # Not stripped: the template's line numbers must stay those of the file.
        if value is not None and not value.strip():
            raise author_error("blank", "must not be empty")
        if value is not None and len(value.encode()) > TEMPLATE_MAX_BYTES:
            raise author_error(
                "too_long", f"is {len(value.encode())} bytes; the limit is {TEMPLATE_MAX_BYTES}"
            )
        return value

    @field_validator("ttl")
    @classmethod
    def _ttl_covers_schedule(cls, value: timedelta, info: ValidationInfo) -> timedelta:
        schedule: Schedule | None = info.data.get("schedule")
        if schedule is not None and value < schedule.every:
            raise author_error(
                "ttl",
                f"TTL shorter than the schedule: {format_duration(value)} < every "
                f"{format_duration(schedule.every)}, so outputs would expire before the next run",
            )
        return value

    @field_validator("consents", "silenced_in", "reads")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _no_repeats(value)

    @field_validator("timeout")
    @classmethod
    def _timeout_in_range(cls, value: timedelta) -> timedelta:
        if not MIN_TIMEOUT <= value <= MAX_TIMEOUT:
            raise author_error(
                "timeout", f"{format_duration(value)} is outside the allowed range 100ms..60s"
            )
        return value

    def resolved_params(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """Return every param's default, replaced by its override when the override is valid."""
        resolved: dict[str, Any] = {}
        for name, spec in self.params.items():
            resolved[name] = spec.default
            # A stale or bad preference must not stop the agent: the default holds.
            if name in overrides:
                with suppress(ValueError):
                    resolved[name] = spec.coerce(overrides[name])
        return resolved


def _reraised(error: ErrorDetails) -> InitErrorDetails:
    context = {**error.get("ctx", {}), "message": error["msg"]}
    return {
        "type": PydanticCustomError(error["type"], "{message}", context),
        "loc": error["loc"],
        "input": error["input"],
    }


def _implementation_problem(data: Mapping[Any, Any]) -> InitErrorDetails | None:
    has_entrypoint = data.get("entrypoint") is not None
    has_template = data.get("template") is not None
    if has_entrypoint == has_template:
        message = (
            "give either entrypoint or template, not both"
            if has_entrypoint
            else "is required: give entrypoint (module.path:ClassName) or template (Jinja text)"
        )
        loc = "template" if has_entrypoint else "entrypoint"
        return {
            "type": author_error("implementation", message),
            "loc": (loc,),
            "input": data.get(loc),
        }
    return None
