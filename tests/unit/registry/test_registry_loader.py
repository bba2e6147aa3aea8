import os
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
import registry_agents
from registry_agents import manifest_text

from ml.registry.files import MAX_MANIFEST_BYTES
from ml.registry.load_errors import LoadError
from ml.registry.loader import load_registry
from ml.registry.registry import Registry

ALLOWED = (registry_agents.MODULE,)

# Line numbers below are those of this text.
ECHO = textwrap.dedent(
    f"""\
    id: echo
    version: 1
    name: Echo
    description: Counts signals.
    entrypoint: {registry_agents.MODULE}:EchoAgent
    schedule:
      every: 15m
      jitter: 1m
    ttl: 1h
    consents: [calendar.read]
    silenced_in: [vacation]
    enabled: true
    priority: 50
    timeout: 5s
    reads: [calendar_event]
    params:
      horizon_hours: {{type: int, default: 12, min: 1, max: 48}}
    """
)


def with_line(number: int, text: str) -> str:
    lines = ECHO.splitlines()
    lines[number - 1] = text
    return "\n".join(lines) + "\n"


def load(directory: Path, **files: str) -> Registry:
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return load_registry(directory, allowed_packages=ALLOWED)


def only_error(registry: Registry) -> LoadError:
    assert len(registry.errors) == 1, registry.errors
    return registry.errors[0]


def test_loads_a_valid_manifest(tmp_path: Path) -> None:
    registry = load(tmp_path, **{"echo.yaml": ECHO})
    assert registry.errors == ()
    agent = registry.agents["echo"]
    assert isinstance(agent.impl, registry_agents.EchoAgent)
    assert agent.source == tmp_path / "echo.yaml"
    assert (agent.id, agent.version, agent.priority, agent.enabled) == ("echo", 1, 50, True)


def test_error_reads_file_line_field_message(tmp_path: Path) -> None:
    registry = load(tmp_path, **{"echo.yaml": with_line(7, "  every: 15 mins")})
    error = only_error(registry)
    assert error == LoadError(
        file=str(tmp_path / "echo.yaml"),
        line=7,
        field="schedule.every",
        message='"15 mins" is not a duration (use e.g. 15m, 1h30m, 45s)',
    )
    assert str(error) == (
        f'{tmp_path}/echo.yaml:7: schedule.every: "15 mins" is not a duration '
        "(use e.g. 15m, 1h30m, 45s)"
    )
    assert registry.agents == {}


def test_error_without_line_or_field_reads_naturally() -> None:
    assert (
        str(LoadError("manifests/x.yaml", None, None, "is empty")) == "manifests/x.yaml: is empty"
    )
    assert str(LoadError("m/x.yaml", 3, None, "bad")) == "m/x.yaml:3: bad"


@pytest.mark.parametrize(
    ("line", "text", "field", "fragment"),
    [
        (1, "id: Echo", "id", '"Echo" is not an agent id'),
        (1, "id: other", "id", '"other" does not match the file name echo.yaml'),
        (2, "version: 0", "version", "must be at least 1, got 0"),
        (2, "version: true", "version", "must be a whole number, got true"),
        (2, "version: '2'", "version", 'must be a whole number, got "2"'),
        (3, "name: ''", "name", "must not be empty"),
        (3, "name: " + "n" * 81, "name", "too long: at most 80"),
        (4, "description: " + "d" * 501, "description", "too long: at most 500"),
        (5, "entrypoint: echo", "entrypoint", "module.path:ClassName"),
        (5, "# no implementation", "entrypoint", "is required: give entrypoint"),
        (7, "  every: 30s", "schedule.every", "30s is too often; the minimum is 1m"),
        (7, "  every: 15", "schedule.every", "15 is not a duration"),
        (8, "  jitter: 15m", "schedule.jitter", "must be shorter than every (15m)"),
        (8, "  jiter: 1m", "schedule.jiter", 'unknown field "jiter" (did you mean "jitter"?)'),
        (9, "ttl: 10m", "ttl", "TTL shorter than the schedule"),
        (10, "consents: [calendar.read, calendar.read]", "consents", "listed twice"),
        (10, "consents: calendar.read", "consents", "must be a list"),
        (10, "consents: [calendar]", "consents[0]", '"calendar" is not a consent key'),
        (11, "silenced_in: [On Vacation]", "silenced_in[0]", "is not a context name"),
        (12, "enabled: maybe", "enabled", 'must be true or false, got "maybe"'),
        (13, "priority: 101", "priority", "must be at most 100, got 101"),
        (13, "priority: -1", "priority", "must be at least 0, got -1"),
        (14, "timeout: 50ms", "timeout", "50ms is outside the allowed range 100ms..60s"),
        (14, "timeout: 2m", "timeout", "2m is outside the allowed range 100ms..60s"),
        (15, "reads: [Calendar-Event]", "reads[0]", "is not a signal kind"),
        (
            17,
            "  horizon_hours: {type: int, default: 99, min: 1, max: 48}",
            "params.horizon_hours.default",
            "99 is above the maximum 48",
        ),
        (
            17,
            "  horizon_hours: {type: str, default: a, min: 1}",
            "params.horizon_hours.min",
            "only int and float params have bounds",
        ),
        (
            17,
            "  horizon_hours: {type: text, default: a}",
            "params.horizon_hours.type",
            "must be one of 'int', 'float', 'str' or 'bool'",
        ),
        (17, "  Horizon: {type: int, default: 1}", "params.Horizon", "is not a parameter name"),
        (17, "  horizon_hours: 12", "params.horizon_hours", "must be a mapping"),
        (6, "shedule:", "shedule", 'unknown field "shedule" (did you mean "schedule"?)'),
    ],
)
def test_reports_the_field_and_line_of_each_rule(
    tmp_path: Path, line: int, text: str, field: str, fragment: str
) -> None:
    registry = load(tmp_path, **{"echo.yaml": with_line(line, text)})
    assert "echo" not in registry.agents
    matching = [error for error in registry.errors if error.field == field]
    assert matching, registry.errors
    assert fragment in matching[0].message
    expected_line = None if fragment.startswith("is required") else line
    assert matching[0].line == expected_line


def test_reports_both_implementations_on_the_template_line(tmp_path: Path) -> None:
    text = ECHO + "template: Hi\n"
    error = only_error(load(tmp_path, **{"echo.yaml": text}))
    assert (error.line, error.field) == (18, "template")
    assert "not both" in error.message


def test_reports_every_error_of_a_file_in_line_order(tmp_path: Path) -> None:
    text = ECHO.replace("version: 1", "version: 0").replace("every: 15m", "every: 15 mins")
    text = text.replace("priority: 50", "priority: 500") + "colour: blue\n"
    registry = load(tmp_path, **{"echo.yaml": text})
    found = [(error.line, error.field) for error in registry.errors]
    assert found == [(2, "version"), (7, "schedule.every"), (13, "priority"), (18, "colour")]


def test_missing_required_fields_are_named(tmp_path: Path) -> None:
    registry = load(tmp_path, **{"echo.yaml": "id: echo\n"})
    missing = {error.field for error in registry.errors if error.message.startswith("is required")}
    assert missing == {"version", "name", "description", "entrypoint", "schedule", "ttl"}


def test_a_missing_nested_field_points_at_its_parent(tmp_path: Path) -> None:
    text = with_line(7, "  jitter: 0s").replace("  jitter: 1m\n", "")
    error = only_error(load(tmp_path, **{"echo.yaml": text}))
    assert (error.line, error.field, error.message) == (6, "schedule.every", "is required")


def test_one_broken_file_does_not_affect_the_others(tmp_path: Path) -> None:
    registry = load(
        tmp_path,
        **{
            "echo.yaml": ECHO,
            "broken.yaml": "id: broken\nversion: [\n",
            "other.yaml": manifest_text("other", priority=1),
        },
    )
    assert set(registry.agents) == {"echo", "other"}
    assert [error.file for error in registry.errors] == [str(tmp_path / "broken.yaml")]


def test_a_yaml_syntax_error_gives_the_yaml_line(tmp_path: Path) -> None:
    text = "id: bad\nversion: 1\nname: Bad\ndescription: x: y\n"
    error = only_error(load(tmp_path, **{"bad.yaml": text}))
    assert error.line == 4
    assert error.message.startswith("invalid YAML: mapping values are not allowed here")


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("", None, "is empty"),
        ("# only a comment\n", None, "is empty"),
        ("- id: x\n", 1, "must be a mapping of fields, not a list"),
        ("just text\n", 1, "must be a mapping of fields, not a str"),
        ("id: a\nid: b\n", 2, 'key "id" appears twice (first on line 1)'),
        ("base: &b {every: 15m}\nschedule: *b\n", 2, "anchors and aliases are not supported"),
        ("id: x\n---\nid: y\n", 2, "expected a single document"),
        ("id: !!python/object:os.system {}\n", 1, "could not determine a constructor"),
    ],
)
def test_rejects_files_that_are_not_one_mapping(
    tmp_path: Path, text: str, line: int | None, fragment: str
) -> None:
    error = only_error(load(tmp_path, **{"x.yaml": text}))
    assert error.line == line
    assert fragment in error.message


def test_rejects_both_files_of_a_duplicate_id(tmp_path: Path) -> None:
    registry = load(
        tmp_path,
        **{
            "echo.yaml": ECHO,
            "echo.yml": ECHO.replace("version: 1", "version: 2"),
            "other.yaml": manifest_text("other"),
        },
    )
    assert set(registry.agents) == {"other"}
    assert {error.file for error in registry.errors} == {
        str(tmp_path / "echo.yaml"),
        str(tmp_path / "echo.yml"),
    }
    assert all("declared by several files" in error.message for error in registry.errors)


def test_reads_only_visible_yaml_files(tmp_path: Path) -> None:
    registry = load(
        tmp_path,
        **{
            "echo.yml": ECHO,
            "schema.json": "{}",
            "notes.txt": "not a manifest",
            ".draft.yaml": "not: [valid",
        },
    )
    assert set(registry.agents) == {"echo"}
    assert registry.errors == ()


def test_reports_a_missing_directory(tmp_path: Path) -> None:
    registry = load_registry(tmp_path / "nope", allowed_packages=ALLOWED)
    assert registry.agents == {}
    assert "cannot list manifests" in only_error(registry).message


def test_rejects_oversized_files_without_parsing(tmp_path: Path) -> None:
    text = ECHO + "#" * MAX_MANIFEST_BYTES + "\n"
    error = only_error(load(tmp_path, **{"echo.yaml": text}))
    assert error.line is None
    assert f"a manifest may be at most {MAX_MANIFEST_BYTES} (64 KiB)" in error.message


def test_rejects_invalid_utf8_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "echo.yaml").write_bytes(ECHO.encode().replace(b"Echo", b"Ech\xff", 1))
    error = only_error(load_registry(tmp_path, allowed_packages=ALLOWED))
    assert error.line == 3
    assert "is not valid UTF-8 (byte 0xff)" in error.message


def test_accepts_a_utf8_byte_order_mark(tmp_path: Path) -> None:
    (tmp_path / "echo.yaml").write_bytes(b"\xef\xbb\xbf" + ECHO.encode())
    assert set(load_registry(tmp_path, allowed_packages=ALLOWED).agents) == {"echo"}


def test_reports_a_dangling_symlink_as_unreadable(tmp_path: Path) -> None:
    (tmp_path / "echo.yaml").symlink_to(tmp_path / "gone.yaml")
    error = only_error(load_registry(tmp_path, allowed_packages=ALLOWED))
    assert error.message == "cannot be read: no such file or directory"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_reports_a_file_without_read_permission(tmp_path: Path) -> None:
    path = tmp_path / "echo.yaml"
    path.write_text(ECHO)
    path.chmod(0)
    try:
        error = only_error(load_registry(tmp_path, allowed_packages=ALLOWED))
    finally:
        path.chmod(0o644)
    assert error.message == "cannot be read: permission denied"


class TestEntrypoints:
    def entry(self, tmp_path: Path, target: str, allowed: tuple[str, ...] = ALLOWED) -> Registry:
        (tmp_path / "echo.yaml").write_text(with_line(5, f"entrypoint: {target}"))
        return load_registry(tmp_path, allowed_packages=allowed)

    def write_module(self, root: Path, name: str, body: str) -> None:
        (root / f"{name}.py").write_text(textwrap.dedent(body))

    def test_never_imports_a_module_outside_the_allowed_packages(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        code = tmp_path / "code"
        code.mkdir()
        marker = tmp_path / "imported"
        name = f"{registry_agents.MODULE}_evil_{uuid.uuid4().hex}"
        self.write_module(
            code, name, f"open({str(marker)!r}, 'w').close()\nclass Agent:\n    pass\n"
        )
        monkeypatch.syspath_prepend(str(code))
        manifests = tmp_path / "manifests"
        manifests.mkdir()
        error = only_error(self.entry(manifests, f"{name}:Agent"))
        assert (error.line, error.field) == (5, "entrypoint")
        assert "outside the allowed packages" in error.message
        assert "was not imported" in error.message
        assert not marker.exists()
        assert name not in sys.modules

    def test_default_allows_only_ml_agents(self, tmp_path: Path) -> None:
        (tmp_path / "echo.yaml").write_text(with_line(5, "entrypoint: os:getcwd"))
        error = only_error(load_registry(tmp_path))
        assert "outside the allowed packages (ml.agents)" in error.message

    @pytest.mark.parametrize(
        ("target", "fragment"),
        [
            (f"{registry_agents.MODULE}:Missing", "has no attribute Missing"),
            (f"{registry_agents.MODULE}:NOT_A_CLASS", "is not a class"),
            (f"{registry_agents.MODULE}:NoCompute", "does not implement compute"),
            (
                f"{registry_agents.MODULE}:ExplodingInit",
                "ExplodingInit() raised RuntimeError: missing configuration",
            ),
            (f"{registry_agents.MODULE}.sub:Agent", "cannot import"),
        ],
    )
    def test_reports_a_bad_class_as_an_error(
        self, tmp_path: Path, target: str, fragment: str
    ) -> None:
        error = only_error(self.entry(tmp_path, target))
        assert (error.line, error.field) == (5, "entrypoint")
        assert fragment in error.message

    @pytest.mark.parametrize(
        ("body", "fragment"),
        [
            ("raise RuntimeError('boom at import')\n", "RuntimeError: boom at import"),
            ("raise SystemExit(3)\n", "SystemExit: 3"),
            ("def broken(:\n", "SyntaxError"),
        ],
    )
    def test_reports_a_module_failing_at_import(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, fragment: str
    ) -> None:
        package = f"agents_{uuid.uuid4().hex}"
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
        self.write_module(tmp_path / package, "boom", body)
        monkeypatch.syspath_prepend(str(tmp_path))
        manifests = tmp_path / "manifests"
        manifests.mkdir()
        (manifests / "other.yaml").write_text(manifest_text("other"))
        registry = self.entry(manifests, f"{package}.boom:Agent", (package, *ALLOWED))
        assert set(registry.agents) == {"other"}
        error = only_error(registry)
        assert error.message.startswith(f"cannot import {package}.boom")
        assert fragment in error.message


class TestTemplates:
    @pytest.fixture(autouse=True)
    def _needs_template_agents(self) -> None:
        pytest.importorskip("ml.agents.template", reason="ml.agents.template is not available")

    def test_loads_a_template_agent(self, tmp_path: Path) -> None:
        text = manifest_text("hello", entrypoint=None, template="Hello {{ user.user_id }}\n")
        registry = load(tmp_path, **{"hello.yaml": text})
        assert registry.errors == ()
        assert type(registry.agents["hello"].impl).__name__ == "TemplateAgent"

    def test_reports_a_template_error_on_the_file_line(self, tmp_path: Path) -> None:
        text = ECHO.replace(
            f"entrypoint: {registry_agents.MODULE}:EchoAgent\n",
            "template: |\n  Hello\n  {% if signals %}\n  {{ 1 + }}\n  {% endif %}\n",
        )
        error = only_error(load(tmp_path, **{"echo.yaml": text}))
        assert (error.line, error.field) == (8, "template")
        assert error.message.startswith("template line 3: ")

    def test_reports_a_template_error_in_a_one_line_template(self, tmp_path: Path) -> None:
        text = with_line(5, 'template: "Hello {{ name }"')
        error = only_error(load(tmp_path, **{"echo.yaml": text}))
        assert (error.line, error.field) == (5, "template")


def test_fingerprint_follows_content(tmp_path: Path) -> None:
    first = load(tmp_path, **{"echo.yaml": ECHO})
    assert load_registry(tmp_path, allowed_packages=ALLOWED).fingerprint == first.fingerprint
    changed = load(tmp_path, **{"echo.yaml": ECHO.replace("version: 1", "version: 2")})
    assert changed.fingerprint != first.fingerprint
    (tmp_path / "echo.yaml").rename(tmp_path / "echo.yml")
    assert load_registry(tmp_path, allowed_packages=ALLOWED).fingerprint != changed.fingerprint


def test_reading_a_signal_kind_that_does_not_exist_is_refused_with_its_line(
    tmp_path: Path,
) -> None:
    from nudge.settings import Settings
    from nudge_profile.signal_kinds import SignalKinds

    kinds = SignalKinds.load(Settings().signal_kinds_dir)
    (tmp_path / "echo.yaml").write_text(
        with_line(15, "reads: [task, calender_event]"), encoding="utf-8"
    )
    registry = load_registry(tmp_path, allowed_packages=ALLOWED, signal_kinds=kinds)
    error = only_error(registry)
    assert registry.agents == {}
    assert (error.line, error.field) == (15, "reads[1]")
    assert "unknown signal kind 'calender_event' (did you mean 'calendar_event'?)" in error.message
    assert "known kinds: article, calendar_event" in error.message
    # Without the kinds (an offline check of manifests alone) the file loads.
    assert set(load_registry(tmp_path, allowed_packages=ALLOWED).agents) == {"echo"}
