"""The example agent of docs/adding-an-agent.md loads, validates and produces a snippet."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from ml.registry.loader import load_registry
from ml.serving.llm.fake import FakeLLM
from nudge.bootstrap import bootstrap
from nudge.settings import REPO_ROOT, Settings
from nudge_profile.signal_kinds import SignalKinds
from nudge_profile.signals import SignalIn
from tests.conftest import FixedClock, MakeSettings


def documented_manifest() -> str:
    """The example manifest of docs/adding-an-agent.md."""
    page = (REPO_ROOT / "docs" / "adding-an-agent.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(id: water.*?)```", page, re.DOTALL)
    assert block, "the example manifest of docs/adding-an-agent.md is gone"
    return block.group(1)


def documented_kind() -> str:
    """The example signal kind of the same page, the one the example agent reads."""
    page = (REPO_ROOT / "docs" / "adding-an-agent.md").read_text(encoding="utf-8")
    block = re.search(
        r"```yaml\n# manifests/signal-kinds/water_log.yaml\n(.*?)```", page, re.DOTALL
    )
    assert block, "the example signal kind of docs/adding-an-agent.md is gone"
    return block.group(1)


def test_documented_example_agent_works(
    settings_for: MakeSettings, clock: FixedClock, tmp_path: Path
) -> None:
    manifests, kinds_dir = tmp_path / "manifests", tmp_path / "signal-kinds"
    manifests.mkdir()
    (manifests / "water.yaml").write_text(documented_manifest())
    shutil.copytree(Settings().signal_kinds_dir, kinds_dir)
    (kinds_dir / "water_log.yaml").write_text(documented_kind())
    kinds = SignalKinds.load(kinds_dir)
    registry = load_registry(manifests, signal_kinds=kinds)
    assert registry.errors == () and "water" in registry.agents
    assert not load_registry(
        manifests, signal_kinds=SignalKinds.load(Settings().signal_kinds_dir)
    ).agents

    settings = settings_for(manifests_dir=manifests, signal_kinds_dir=kinds_dir)
    nudge = bootstrap(settings, clock=clock, llm=FakeLLM())
    nudge.profiles.upsert_user("alice", timezone="UTC")
    preview = nudge.sweeper.preview("water", "alice")
    snippet, error = preview.snippet, preview.error
    assert snippet is None and error == "alice has not granted health.read"
    nudge.profiles.set_consent("alice", "health.read", True, agents_requiring=lambda key: [])
    today = clock().date().isoformat()
    nudge.signals.ingest(
        "alice",
        [
            SignalIn(
                kind="water_log", external_id=f"w{i}", payload={"date": today}, occurred_at=clock()
            )
            for i in range(2)
        ],
    )
    preview = nudge.sweeper.preview("water", "alice")
    snippet, error = preview.snippet, preview.error
    nudge.stop()
    assert error is None and snippet is not None
    assert snippet.text == "Water: 2 glasses logged today, goal 8."
    assert snippet.suggestion == "Drink a glass of water now."
    assert snippet.because == "only 2 glasses of water are logged today"
