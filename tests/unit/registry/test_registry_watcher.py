import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import registry_agents
from registry_agents import manifest_text

import ml.registry.watcher as watcher_module
from ml.registry.registry import Registry
from ml.registry.watcher import LiveRegistry

ALLOWED = (registry_agents.MODULE,)
WITHIN_SECONDS = 5.0


def eventually(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WITHIN_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not true within {WITHIN_SECONDS} s")
        time.sleep(0.05)


def version_of(live: LiveRegistry, agent_id: str) -> int | None:
    agent = live.current.get(agent_id)
    return None if agent is None else agent.version


@pytest.fixture(params=["os-events", "polling-only"])
def live(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LiveRegistry]:
    if request.param == "polling-only":

        def no_inotify(*args: object, **kwargs: object) -> Iterator[object]:
            raise OSError("inotify is not available")

        monkeypatch.setattr(watcher_module, "watch", no_inotify)
    (tmp_path / "stable.yaml").write_text(manifest_text("stable"))
    registry = LiveRegistry(tmp_path, ALLOWED)
    registry.start()
    yield registry
    registry.stop()


def test_follows_additions_changes_and_removals(live: LiveRegistry, tmp_path: Path) -> None:
    path = tmp_path / "echo.yaml"
    path.write_text(manifest_text("echo"))
    eventually(lambda: version_of(live, "echo") == 1)

    path.write_text(manifest_text("echo", version=2))
    eventually(lambda: version_of(live, "echo") == 2)

    path.unlink()
    eventually(lambda: live.current.get("echo") is None)
    assert live.current.get("stable") is not None


def test_a_broken_manifest_is_reported_and_the_others_stay(
    live: LiveRegistry, tmp_path: Path
) -> None:
    (tmp_path / "broken.yaml").write_text(manifest_text("broken", ttl="1 hour"))
    eventually(lambda: any(e.field == "ttl" for e in live.current.errors))
    assert set(live.current.agents) == {"stable"}


def test_reload_is_immediate_and_notifies_only_on_change(tmp_path: Path) -> None:
    seen: list[Registry] = []
    live = LiveRegistry(tmp_path, ALLOWED, on_change=seen.append)
    assert live.current.agents == {}
    assert live.reload() is live.current
    assert seen == []
    (tmp_path / "echo.yaml").write_text(manifest_text("echo"))
    registry = live.reload()
    assert set(registry.agents) == {"echo"}
    assert seen == [registry]


def test_a_failing_callback_does_not_stop_the_watcher(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    def explode(registry: Registry) -> None:
        calls.append(",".join(registry.agents))
        raise RuntimeError("subscriber bug")

    with LiveRegistry(tmp_path, ALLOWED, on_change=explode) as live:
        (tmp_path / "first.yaml").write_text(manifest_text("first"))
        eventually(lambda: live.current.get("first") is not None)
        (tmp_path / "second.yaml").write_text(manifest_text("second"))
        eventually(lambda: live.current.get("second") is not None)
    assert calls[-1] == "first,second"
    assert "on_change callback failed" in caplog.text


def test_a_missing_directory_is_picked_up_when_it_appears(tmp_path: Path) -> None:
    directory = tmp_path / "manifests"
    with LiveRegistry(directory, ALLOWED) as live:
        assert live.current.errors
        directory.mkdir()
        (directory / "echo.yaml").write_text(manifest_text("echo"))
        eventually(lambda: live.current.get("echo") is not None)
        assert live.current.errors == ()


def test_stop_ends_the_thread_and_start_is_idempotent(tmp_path: Path) -> None:
    live = LiveRegistry(tmp_path, ALLOWED)
    live.start()
    live.start()
    started = time.monotonic()
    live.stop()
    assert time.monotonic() - started < WITHIN_SECONDS
    (tmp_path / "echo.yaml").write_text(manifest_text("echo"))
    time.sleep(1.5)
    assert live.current.get("echo") is None
