"""Typed agent parameters: their declaration in a manifest and the checking of values."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from ml.agents.inference import get_inferrer, inferrer_names
from ml.registry.fields import author_error, shown

ParamType = Literal["int", "float", "str", "bool"]
Scalar = int | float | str | bool

_EXPECTED: dict[ParamType, str] = {
    "int": "a whole number",
    "float": "a number",
    "str": "a string",
    "bool": "true or false",
}


def coerce_param(value: object, param_type: ParamType) -> Scalar:
    """Return ``value`` as ``param_type``; an integral float is an int, an int is a float."""
    if param_type == "bool":
        if isinstance(value, bool):
            return value
    elif param_type == "str":
        if isinstance(value, str):
            return value
    elif isinstance(value, bool):
        pass  # bool is an int subclass in Python; a YAML `true` must never pass as a number
    elif param_type == "int":
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    raise ValueError(f"{shown(value)} is not {_EXPECTED[param_type]}")


def check_param(
    value: Scalar,
    *,
    minimum: float | None,
    maximum: float | None,
    choices: Sequence[Scalar] | None,
) -> Scalar:
    """Return ``value`` if it is within the bounds and among the choices, else raise ValueError."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if minimum is not None and value < minimum:
            raise ValueError(f"{shown(value)} is below the minimum {shown(minimum)}")
        if maximum is not None and value > maximum:
            raise ValueError(f"{shown(value)} is above the maximum {shown(maximum)}")
    if choices is not None and value not in choices:
        allowed = ", ".join(shown(choice) for choice in choices)
        raise ValueError(f"{shown(value)} is not one of {allowed}")
    return value


def _scalar(value: object) -> Scalar:
    if isinstance(value, int | float | str | bool):
        return value
    raise author_error("scalar", f"{shown(value)} is not a number, a string or true/false")


def _number(value: object) -> int | float:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return value
    raise author_error("number", f"{shown(value)} is not a number")


ParamValue = Annotated[
    Scalar,
    PlainValidator(_scalar),
    WithJsonSchema({"type": ["boolean", "integer", "number", "string"]}),
]
Number = Annotated[int | float, PlainValidator(_number), WithJsonSchema({"type": "number"})]


class ParamSpec(BaseModel):
    """One tunable parameter of an agent: its type, default and allowed values."""

    # Field order matters: each validator sees only the fields declared before it.
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: ParamType
    min: Number | None = None
    max: Number | None = None
    choices: Annotated[tuple[ParamValue, ...], Field(min_length=1)] | None = None
    default: ParamValue
    description: Annotated[str, Field(max_length=200)] | None = None
    infer: Annotated[str, Field(max_length=64)] | None = Field(
        None, description="An inferrer that works the value out from the user's signals."
    )
    min_confidence: Annotated[float, Field(ge=0, le=1)] | None = Field(
        None, description="Below this confidence the inferred value is not used."
    )

    @field_validator("infer")
    @classmethod
    def _known_inferrer(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        inferrer = get_inferrer(value)
        if inferrer is None:
            known = ", ".join(inferrer_names())
            raise author_error("inferrer", f'"{value}" is not a known inferrer (known: {known})')
        param_type = info.data.get("type")
        if param_type is not None and inferrer.type != param_type:
            raise author_error(
                "inferrer",
                f"{value} infers {_a(inferrer.type)} but this param is {_a(param_type)}",
            )
        return value

    @field_validator("min", "max")
    @classmethod
    def _bounds_for_numbers(cls, value: float | None, info: ValidationInfo) -> float | None:
        param_type = info.data.get("type")
        if value is None or param_type is None:
            return value
        if param_type not in ("int", "float"):
            raise author_error("bound", "only int and float params have bounds")
        low = info.data.get("min")
        if info.field_name == "max" and low is not None and value < low:
            raise author_error("bound", f"{shown(value)} is below min {shown(low)}")
        return value

    @field_validator("choices")
    @classmethod
    def _choices_of_type(
        cls, value: tuple[Scalar, ...] | None, info: ValidationInfo
    ) -> tuple[Scalar, ...] | None:
        param_type: ParamType | None = info.data.get("type")
        if value is None or param_type is None:
            return value
        if param_type == "bool":
            raise author_error("choices", "choices are not for bool params")
        try:
            coerced = tuple(coerce_param(choice, param_type) for choice in value)
        except ValueError as exc:
            raise author_error("choices", f"choice {exc}") from None
        if len(set(coerced)) != len(coerced):
            raise author_error("choices", "choices must not repeat")
        return coerced

    @field_validator("default")
    @classmethod
    def _default_is_allowed(cls, value: Scalar, info: ValidationInfo) -> Scalar:
        param_type: ParamType | None = info.data.get("type")
        if param_type is None:
            return value
        try:
            return check_param(
                coerce_param(value, param_type),
                minimum=info.data.get("min"),
                maximum=info.data.get("max"),
                choices=info.data.get("choices"),
            )
        except ValueError as exc:
            raise author_error("default", str(exc)) from None

    def coerce(self, value: object) -> Scalar:
        """Return an override as this param's type, or raise ValueError saying why it is refused."""
        return check_param(
            coerce_param(value, self.type),
            minimum=self.min,
            maximum=self.max,
            choices=self.choices,
        )


def _a(param_type: str) -> str:
    return f"an {param_type}" if param_type == "int" else f"a {param_type}"
