from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from ml.registry.manifest import Manifest, ParamSpec


def manifest(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "calendar",
        "version": 3,
        "name": "Calendar",
        "description": "Free slots and the next meeting in the coming hours.",
        "entrypoint": "ml.agents.calendar:CalendarAgent",
        "schedule": {"every": "15m", "jitter": "1m"},
        "ttl": "45m",
        "consents": ["calendar.read"],
        "silenced_in": ["vacation", "sleep"],
        "reads": ["calendar_event"],
        "params": {"horizon_hours": {"type": "int", "default": 12, "min": 1, "max": 48}},
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def errors_of(data: dict[str, Any]) -> dict[tuple[str | int, ...], str]:
    with pytest.raises(ValidationError) as caught:
        Manifest.model_validate(data)
    return {tuple(error["loc"]): error["msg"] for error in caught.value.errors()}


def test_reads_the_documented_example() -> None:
    m = Manifest.model_validate(manifest())
    assert m.schedule.every == timedelta(minutes=15)
    assert m.schedule.jitter == timedelta(minutes=1)
    assert m.ttl == timedelta(minutes=45)
    assert m.timeout == timedelta(seconds=5)
    assert (m.enabled, m.priority) == (True, 50)
    assert m.consents == ("calendar.read",)


def test_defaults_and_json_dump_write_durations_as_authors_do() -> None:
    m = Manifest.model_validate(manifest(schedule={"every": "1h30m"}, ttl="2h"))
    dumped = m.model_dump(mode="json")
    assert dumped["schedule"] == {"every": "1h30m", "jitter": "0s"}
    assert dumped["ttl"] == "2h"
    assert dumped["timeout"] == "5s"


def test_is_frozen() -> None:
    m = Manifest.model_validate(manifest())
    with pytest.raises(ValidationError):
        m.priority = 1  # type: ignore[misc]


def test_collects_every_field_error_at_once() -> None:
    errors = errors_of(
        manifest(
            id="Calendar",
            version=0,
            schedule={"every": "15 mins"},
            consents=["calendar"],
            priority=101,
            colour="blue",
            template="Hi",
        )
    )
    assert set(errors) == {
        ("id",),
        ("version",),
        ("schedule", "every"),
        ("consents", 0),
        ("priority",),
        ("colour",),
        ("template",),
    }
    assert errors[("schedule", "every")] == (
        '"15 mins" is not a duration (use e.g. 15m, 1h30m, 45s)'
    )


@pytest.mark.parametrize(
    ("fields", "loc", "fragment"),
    [
        ({"id": "x" * 65}, ("id",), "at most 64"),
        ({"id": "my agent"}, ("id",), "is not an agent id"),
        ({"version": True}, ("version",), "valid integer"),
        ({"version": "3"}, ("version",), "valid integer"),
        ({"name": "   "}, ("name",), "at least 1"),
        ({"description": "d" * 501}, ("description",), "at most 500"),
        ({"entrypoint": "ml.agents.calendar"}, ("entrypoint",), "module.path:ClassName"),
        ({"entrypoint": None}, ("entrypoint",), "is required"),
        ({"template": "Hi"}, ("template",), "not both"),
        ({"entrypoint": None, "template": "  \n"}, ("template",), "must not be empty"),
        ({"entrypoint": None, "template": "é" * 4097}, ("template",), "the limit is 8192"),
        ({"schedule": {"every": "30s"}}, ("schedule", "every"), "the minimum is 1m"),
        ({"schedule": {"every": 900}}, ("schedule", "every"), "900 is not a duration"),
        ({"schedule": {"every": "15m", "jitter": "15m"}}, ("schedule", "jitter"), "shorter"),
        ({"ttl": "10m"}, ("ttl",), "TTL shorter than the schedule"),
        ({"consents": ["calendar.read", "calendar.read"]}, ("consents",), "listed twice"),
        ({"consents": ["Calendar.Read"]}, ("consents", 0), "is not a consent key"),
        ({"silenced_in": ["on vacation"]}, ("silenced_in", 0), "is not a context name"),
        ({"enabled": "yes"}, ("enabled",), "valid boolean"),
        ({"priority": -1}, ("priority",), "greater than or equal to 0"),
        ({"timeout": "50ms"}, ("timeout",), "outside the allowed range 100ms..60s"),
        ({"timeout": "61s"}, ("timeout",), "outside the allowed range 100ms..60s"),
        ({"reads": ["calendar-event"]}, ("reads", 0), "is not a signal kind"),
        (
            {"params": {"Horizon": {"type": "int", "default": 1}}},
            ("params", "Horizon", "[key]"),
            "parameter name",
        ),
        ({"params": {"h": {"type": "int"}}}, ("params", "h", "default"), "required"),
        ({"schedule": {"every": "15m", "jiter": "1m"}}, ("schedule", "jiter"), "not permitted"),
    ],
)
def test_rejects(fields: dict[str, Any], loc: tuple[str | int, ...], fragment: str) -> None:
    errors = errors_of(manifest(**fields))
    assert loc in errors, errors
    assert fragment in errors[loc]


def test_a_ttl_equal_to_the_schedule_is_enough() -> None:
    assert Manifest.model_validate(manifest(ttl="15m")).ttl == timedelta(minutes=15)


def test_template_keeps_its_leading_lines() -> None:
    m = Manifest.model_validate(manifest(entrypoint=None, template="\nHello\n"))
    assert m.template == "\nHello\n"


class TestParamSpec:
    @pytest.mark.parametrize(
        ("spec", "loc", "fragment"),
        [
            ({"type": "int", "default": 99, "max": 48}, "default", "99 is above the maximum 48"),
            ({"type": "int", "default": 0, "min": 1}, "default", "0 is below the minimum 1"),
            ({"type": "int", "default": True}, "default", "true is not a whole number"),
            ({"type": "int", "default": 1.5}, "default", "1.5 is not a whole number"),
            ({"type": "float", "default": "1"}, "default", '"1" is not a number'),
            ({"type": "str", "default": 1}, "default", "1 is not a string"),
            ({"type": "bool", "default": 0}, "default", "0 is not true or false"),
            ({"type": "str", "default": "a", "min": 1}, "min", "only int and float"),
            ({"type": "bool", "default": True, "max": 1}, "max", "only int and float"),
            ({"type": "int", "default": 3, "min": 5, "max": 1}, "max", "1 is below min 5"),
            ({"type": "int", "default": 1, "min": True}, "min", "true is not a number"),
            ({"type": "str", "default": "c", "choices": ["a", "b"]}, "default", "not one of"),
            ({"type": "int", "default": 1, "choices": [1, "x"]}, "choices", '"x" is not'),
            ({"type": "int", "default": 1, "choices": [1, 1]}, "choices", "must not repeat"),
            ({"type": "bool", "default": True, "choices": [True]}, "choices", "not for bool"),
            ({"type": "int", "default": [1]}, "default", "is not a number, a string"),
            ({"type": "number", "default": 1}, "type", "'int', 'float', 'str' or 'bool'"),
            ({"type": "int", "default": 1, "unit": "h"}, "unit", "not permitted"),
        ],
    )
    def test_rejects(self, spec: dict[str, Any], loc: str, fragment: str) -> None:
        with pytest.raises(ValidationError) as caught:
            ParamSpec.model_validate(spec)
        messages = {error["loc"][0]: error["msg"] for error in caught.value.errors()}
        assert fragment in messages[loc], messages

    def test_coerces_defaults_to_their_type(self) -> None:
        assert ParamSpec(type="float", default=1).default == 1.0
        assert isinstance(ParamSpec(type="float", default=1).default, float)
        assert ParamSpec(type="int", default=12.0).default == 12

    @pytest.mark.parametrize(("value", "expected"), [(5, 5), (5.0, 5), (1, 1), (48, 48)])
    def test_accepts_overrides_in_bounds(self, value: object, expected: int) -> None:
        spec = ParamSpec(type="int", default=12, min=1, max=48)
        assert spec.coerce(value) == expected

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            (99, "99 is above the maximum 48"),
            (0, "0 is below the minimum 1"),
            (5.5, "5.5 is not a whole number"),
            (True, "true is not a whole number"),
            ("5", '"5" is not a whole number'),
            (None, "null is not a whole number"),
        ],
    )
    def test_refuses_bad_overrides_saying_why(self, value: object, message: str) -> None:
        spec = ParamSpec(type="int", default=12, min=1, max=48)
        with pytest.raises(ValueError) as caught:
            spec.coerce(value)
        assert str(caught.value) == message

    def test_checks_choices_of_overrides(self) -> None:
        spec = ParamSpec(type="str", default="short", choices=("short", "long"))
        assert spec.coerce("long") == "long"
        with pytest.raises(ValueError, match='"medium" is not one of "short", "long"'):
            spec.coerce("medium")

    @pytest.mark.parametrize("value", [float("nan"), float("inf")])
    def test_refuses_non_finite_floats(self, value: float) -> None:
        with pytest.raises(ValueError):
            ParamSpec(type="float", default=0.5).coerce(value)


def test_resolved_params_apply_valid_overrides_and_ignore_the_rest() -> None:
    m = Manifest.model_validate(
        manifest(
            params={
                "horizon_hours": {"type": "int", "default": 12, "min": 1, "max": 48},
                "tone": {"type": "str", "default": "short", "choices": ["short", "long"]},
                "ratio": {"type": "float", "default": 0.5},
            }
        )
    )
    resolved = m.resolved_params({"horizon_hours": 99, "tone": "long", "ratio": 1, "unknown": "x"})
    assert resolved == {"horizon_hours": 12, "tone": "long", "ratio": 1.0}
    assert m.resolved_params({}) == {"horizon_hours": 12, "tone": "short", "ratio": 0.5}
