"""Build the agent a validated manifest declares: an allowed entrypoint class or a template."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from ml.agents.base import Agent
from ml.registry.load_errors import LoadError
from ml.registry.manifest import Manifest
from ml.registry.yamlsource import YamlDocument


def is_allowed(module: str, allowed_packages: Sequence[str]) -> bool:
    """Tell whether ``module`` is one of ``allowed_packages`` or inside one of them."""
    # A bare prefix test would let `ml.agents_evil` through for `ml.agents`.
    return any(
        module == package or module.startswith(f"{package}.") for package in allowed_packages
    )


def build_agent(
    manifest: Manifest, *, file: str, doc: YamlDocument, allowed_packages: Sequence[str]
) -> Agent | LoadError:
    """Return the manifest's agent, or the reason it cannot be built (never raises)."""
    if manifest.template is not None:
        return _from_template(manifest.template, manifest.id, file, doc)
    line = doc.line_of(("entrypoint",))

    def fail(message: str) -> LoadError:
        return LoadError(file, line, "entrypoint", message)

    entrypoint = manifest.entrypoint or ""
    module_name, _, class_name = entrypoint.partition(":")
    if not is_allowed(module_name, allowed_packages):
        # Manifests may come from third parties: importing runs their code, so an
        # entrypoint outside the trusted packages is refused before any import.
        return fail(
            f"module {module_name} is outside the allowed packages "
            f"({', '.join(allowed_packages)}) and was not imported; "
            "move the class there or declare the agent with template:"
        )
    try:
        importlib.invalidate_caches()  # a module added since the last load must be found
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:  # the module's own code: any failure is its error
        return fail(f"cannot import {module_name}: {type(exc).__name__}: {exc}")
    cls = getattr(module, class_name, None)
    if cls is None:
        return fail(f"module {module_name} has no attribute {class_name}")
    if not isinstance(cls, type):
        return fail(f"{entrypoint} is not a class")
    if not callable(getattr(cls, "compute", None)):
        return fail(f"{class_name} does not implement compute(inp) -> Snippet | None")
    try:
        instance = cls()
    except (Exception, SystemExit) as exc:
        return fail(f"{class_name}() raised {type(exc).__name__}: {exc}")
    if not isinstance(instance, Agent):
        return fail(f"{class_name} does not implement compute(inp) -> Snippet | None")
    return instance


def _from_template(source: str, agent_id: str, file: str, doc: YamlDocument) -> Agent | LoadError:
    key_line = doc.line_of(("template",))
    try:
        from ml.agents.template import TemplateAgent, TemplateError
    except ImportError as exc:
        return LoadError(file, key_line, "template", f"template agents are unavailable: {exc}")
    try:
        return TemplateAgent(source, agent_id=agent_id)
    except TemplateError as exc:
        if exc.lineno is None:
            return LoadError(file, key_line, "template", exc.message)
        start = doc.text_starts.get(("template",))
        line = key_line if start is None else start + exc.lineno - 1
        message = f"template line {exc.lineno}: {exc.message}"
        return LoadError(file, line, "template", message)
    except Exception as exc:
        message = f"cannot be compiled: {type(exc).__name__}: {exc}"
        return LoadError(file, key_line, "template", message)
