"""A corpus of broken and hostile manifests: each is rejected, clearly, and nothing runs.

Each file in ``broken_manifests/`` starts with ``# expect: TEXT``: the load error must
mention TEXT. Every file is loaded next to a good manifest, which must keep loading.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from ml.registry.loader import load_registry

CORPUS = Path(__file__).with_name("broken_manifests")
GOOD = Path(__file__).resolve().parents[3] / "manifests" / "tasks.yaml"
CASES = sorted(CORPUS.glob("*.yaml"))
PWNED = Path("/tmp/nudge-pwned")


def _expected(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: '"
    return first.removeprefix("# expect: ").strip()


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=[p.stem for p in CASES])
def test_each_broken_manifest_is_rejected_with_a_reason(case: Path, tmp_path: Path) -> None:
    shutil.copy(GOOD, tmp_path / GOOD.name)
    shutil.copy(case, tmp_path / case.name)
    PWNED.unlink(missing_ok=True)
    registry = load_registry(tmp_path, allowed_packages=("ml.agents",))
    assert "tasks" in registry.agents, "a broken neighbour must not stop a good manifest"
    assert case.stem not in registry.agents
    errors = [e for e in registry.errors if Path(e.file).name == case.name]
    assert errors, f"{case.name} was not reported"
    text = " | ".join(f"{e.field}: {e.message}" for e in errors)
    assert _expected(case).lower() in text.lower(), text
    assert all(e.message.strip() for e in errors)
    # Nothing ran: no import of the named module, no file written by a template.
    assert "tests.unit.registry.broken_manifests.side_effect" not in sys.modules
    assert not (CORPUS / "IMPORTED").exists()
    assert not PWNED.exists()


def test_duplicate_ids_reject_both_files(tmp_path: Path) -> None:
    text = GOOD.read_text(encoding="utf-8").replace("id: tasks", "id: twin")
    (tmp_path / "twin.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "twin.yml").write_text(text, encoding="utf-8")
    registry = load_registry(tmp_path, allowed_packages=("ml.agents",))
    assert "twin" not in registry.agents
    assert sorted(Path(e.file).name for e in registry.errors) == ["twin.yaml", "twin.yml"]
    assert all("twin" in e.message for e in registry.errors)
