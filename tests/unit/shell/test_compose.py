"""docker-compose.yml agrees with the code: services, images, ports, volumes, variables.

Docker cannot run here, so the file is read and checked against what the code reads
(the Settings class), the commands the CLI has and the files the services mount.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import AliasChoices

from nudge.cli.main import app as cli
from nudge.settings import REPO_ROOT, Settings

COMPOSE = REPO_ROOT / "docker-compose.yml"
NUDGE_SERVICES = ("api", "scheduler", "worker")
INFRA = ("postgres", "nats", "redis", "ollama", "litellm", "mlflow")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def settings_variables() -> set[str]:
    """Every environment variable the code reads: one per Settings field."""
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice) for choice in alias.choices)
        else:
            names.add(alias if isinstance(alias, str) else f"NUDGE_{name.upper()}")
    return names


def _filled(environment: dict[str, str]) -> dict[str, str]:
    """${VAR:?message} and ${VAR} replaced by 40 characters, as compose would with secrets."""
    return {
        k: re.sub(r"\$\{[A-Z_]+(?::\?[^}]*)?\}", "x" * 40, str(v)) for k, v in environment.items()
    }


def test_every_service_is_there_with_a_pinned_image_and_a_health_check(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert set(services) == set(INFRA) | set(NUDGE_SERVICES)
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no health check"
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin {image}"
    assert services["worker"]["deploy"]["replicas"] == 2


def test_nudge_services_read_only_variables_the_code_reads(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    known = settings_variables()
    for name in NUDGE_SERVICES:
        environment = compose["services"][name]["environment"]
        unknown = set(environment) - known
        assert not unknown, f"{name} sets variables the code never reads: {sorted(unknown)}"
        # The production settings accept what compose passes (secrets filled in).
        for variable in known:
            monkeypatch.delenv(variable, raising=False)
        for variable, value in _filled(environment).items():
            monkeypatch.setenv(variable, value)
        settings = Settings()
        assert settings.environment == "production" and settings.embedded_llm is False
        assert settings.nats_url == "nats://nats:4222"
        assert settings.redis_url is not None
        assert settings.redis_url.get_secret_value() == "redis://redis:6379/0"


def test_urls_point_at_the_services_and_their_ports(compose: dict[str, Any]) -> None:
    services = compose["services"]
    env = services["api"]["environment"]
    database = urlsplit(_filled(env)["DATABASE_URL"])
    assert (database.hostname, database.port) == ("postgres", 5432)
    assert database.username == services["postgres"]["environment"]["POSTGRES_USER"]
    assert database.path.lstrip("/") == services["postgres"]["environment"]["POSTGRES_DB"]
    bus = urlsplit(env["NATS_URL"])
    assert (bus.hostname, bus.port) == ("nats", 4222)
    nats_conf = (REPO_ROOT / "config" / "nats-server.conf").read_text(encoding="utf-8")
    assert "port: 4222" in nats_conf
    assert re.search(r"sync_interval:\s*always", nats_conf), "JetStream must sync every write"
    assert "-c" in services["nats"]["command"]
    tracking = urlsplit(env["MLFLOW_TRACKING_URI"])
    assert (tracking.hostname, tracking.port) == ("mlflow", 5000)
    assert "5000" in services["mlflow"]["command"] and "5000:5000" in services["mlflow"]["ports"]
    port = int(env["NUDGE_PORT"])
    assert f"{port}:{port}" in services["api"]["ports"]
    assert f"localhost:{port}/healthz" in " ".join(services["api"]["healthcheck"]["test"])
    for model in yaml.safe_load(
        (REPO_ROOT / "config" / "litellm.ollama.yaml").read_text(encoding="utf-8")
    )["model_list"]:
        assert urlsplit(model["litellm_params"]["api_base"]).hostname == "ollama"


def test_mounted_files_exist_and_volumes_are_declared(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (REPO_ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared, f"{name} uses undeclared volume {source}"
    env = compose["services"]["api"]["environment"]
    inside = Path(env["NUDGE_LITELLM_CONFIG"])
    assert (REPO_ROOT / inside.relative_to("/app")).is_file()
    dockerfile = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "COPY config config" in dockerfile and "WORKDIR /app" in dockerfile


def test_commands_are_commands_of_the_cli(compose: dict[str, Any]) -> None:
    commands = {
        c.name or (c.callback.__name__ if c.callback else "") for c in cli.registered_commands
    }
    for name in NUDGE_SERVICES:
        command = compose["services"][name]["command"]
        assert command[0] == "nudge" and command[1] in commands, command


def test_dependencies_wait_for_healthy_services(compose: dict[str, Any]) -> None:
    for name in NUDGE_SERVICES:
        depends = compose["services"][name]["depends_on"]
        for needed in ("postgres", "nats"):
            assert depends[needed]["condition"] == "service_healthy", (name, needed)
    assert compose["services"]["litellm"]["depends_on"]["ollama"]["condition"] == "service_healthy"
