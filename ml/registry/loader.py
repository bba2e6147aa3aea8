"""Load a directory of manifests into a Registry, collecting every error of every file."""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from ml.registry.fields import AGENT_ID_PATTERN
from ml.registry.files import ManifestFile, read_sources
from ml.registry.implementation import build_agent
from ml.registry.load_errors import LoadError, validation_errors
from ml.registry.manifest import Manifest
from ml.registry.registry import RegisteredAgent, Registry
from ml.registry.yamlsource import YamlDocument, YamlProblem, parse_yaml
from nudge_profile.signal_kinds import SignalKinds

logger = logging.getLogger(__name__)

DEFAULT_ALLOWED_PACKAGES = ("ml.agents",)


def load_registry(
    directory: Path,
    *,
    allowed_packages: Sequence[str] = DEFAULT_ALLOWED_PACKAGES,
    signal_kinds: SignalKinds | None = None,
) -> Registry:
    """Load every manifest of ``directory``; a broken file is reported and skipped, never fatal.

    With ``signal_kinds``, a manifest that ``reads`` a kind not among them is rejected: its
    agent would wait for signals that no gateway can send.

    An agent's id is its file name, so two files can only claim the same id as
    ``x.yaml`` and ``x.yml``. Both are then rejected, unread: which one was meant
    cannot be known, and picking one would change behaviour with a directory listing.
    """
    sources = read_sources(directory)
    errors: list[LoadError] = [sources.error] if sources.error else []
    by_id: dict[str, list[ManifestFile]] = defaultdict(list)
    for item in sources.files:
        by_id[item.path.stem].append(item)
    agents: dict[str, RegisteredAgent] = {}
    for agent_id, claimants in by_id.items():
        if len(claimants) > 1:
            errors.extend(_duplicate_errors(agent_id, claimants))
            continue
        agent, file_errors = _load_guarded(claimants[0], allowed_packages, signal_kinds)
        errors.extend(sorted(file_errors, key=lambda error: error.line or 0))
        if agent is not None:
            agents[agent.id] = agent
    return Registry(
        agents=agents,
        errors=tuple(errors),
        loaded_at=datetime.now(UTC),
        fingerprint=sources.fingerprint,
    )


def _duplicate_errors(agent_id: str, claimants: Sequence[ManifestFile]) -> list[LoadError]:
    names = ", ".join(item.path.name for item in claimants)
    message = f'agent "{agent_id}" is declared by several files ({names}); keep only one'
    return [LoadError(str(item.path), None, None, message) for item in claimants]


def _load_guarded(
    item: ManifestFile, allowed_packages: Sequence[str], kinds: SignalKinds | None
) -> tuple[RegisteredAgent | None, list[LoadError]]:
    try:
        return _load_file(item, allowed_packages, kinds)
    except Exception as exc:  # one file's surprise must not take the other agents down
        logger.exception("unexpected failure loading %s", item.path)
        return None, [LoadError(str(item.path), None, None, f"cannot be loaded: {exc!r}")]


def _load_file(
    item: ManifestFile, allowed_packages: Sequence[str], kinds: SignalKinds | None
) -> tuple[RegisteredAgent | None, list[LoadError]]:
    file = str(item.path)
    if item.error is not None or item.text is None:
        return None, [item.error or LoadError(file, None, None, "cannot be read")]
    try:
        doc = parse_yaml(item.text)
    except YamlProblem as problem:
        return None, [LoadError(file, problem.line, None, problem.message)]
    if doc.data is None:
        return None, [LoadError(file, None, None, "is empty; a manifest is a mapping: id: ...")]
    if not isinstance(doc.data, dict):
        found = type(doc.data).__name__
        return None, [LoadError(file, 1, None, f"must be a mapping of fields, not a {found}")]
    errors = _identity_errors(item.path, doc)
    try:
        manifest = Manifest.model_validate(doc.data)
    except ValidationError as exc:
        return None, [*errors, *validation_errors(exc, file, doc)]
    if kinds is not None:
        errors += _unknown_kinds(manifest, kinds, file, doc)
    if errors:
        return None, errors
    built = build_agent(manifest, file=file, doc=doc, allowed_packages=allowed_packages)
    if isinstance(built, LoadError):
        return None, [built]
    return RegisteredAgent(manifest=manifest, source=item.path, impl=built), []


def _unknown_kinds(
    manifest: Manifest, kinds: SignalKinds, file: str, doc: YamlDocument
) -> list[LoadError]:
    return [
        LoadError(file, doc.line_of(("reads", i)), f"reads[{i}]", kinds.unknown(kind))
        for i, kind in enumerate(manifest.reads)
        if kind not in kinds
    ]


def _identity_errors(path: Path, doc: YamlDocument) -> list[LoadError]:
    declared = doc.data.get("id")
    # An id that is not a valid id at all gets its own error from validation.
    if not isinstance(declared, str) or declared == path.stem:
        return []
    if re.fullmatch(AGENT_ID_PATTERN, declared) is None:
        return []
    message = (
        f'"{declared}" does not match the file name {path.name}; '
        f"rename the file to {declared}{path.suffix} or set id: {path.stem}"
    )
    return [LoadError(str(path), doc.line_of(("id",)), "id", message)]
