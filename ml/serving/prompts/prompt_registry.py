"""The orchestrator prompt in the MLflow Prompt Registry: versions, aliases, and a live view.

MLflow is imported only inside ``PromptRegistry``'s methods, which run in the CLI or on
``LivePrompts``' own thread. The request path reads ``LivePrompts.current()``: memory only.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ml.serving.prompts.chat_template import from_chat, to_chat
from ml.serving.tip.prompt import PromptError, PromptTemplate
from ml.serving.tip.prompt_source import PromptSource

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger(__name__)

DIGEST_TAG = "nudge.source_sha256"
SOURCE_TAG = "nudge.source_file"
ANSWER_TAG = "nudge.answer"
"""The answer's shape (``tip``); a version without the tag asks for the full answer."""


@dataclass(frozen=True, slots=True)
class PushResult:
    name: str
    version: str
    created: bool
    """False when the registry already held this exact text (its version is reused)."""


@dataclass(frozen=True, slots=True)
class PromptVersionInfo:
    version: str
    aliases: tuple[str, ...]
    digest: str
    message: str
    created_at_ms: int


@functools.cache
def offline_mlflow() -> Any:
    """Import MLflow without its usage telemetry (a call to config.mlflow-telemetry.io)."""
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    return importlib.import_module("mlflow")


class PromptRegistry:
    """The MLflow Prompt Registry at one tracking URI, spoken to in Nudge's terms."""

    def __init__(self, tracking_uri: str) -> None:
        self.tracking_uri = tracking_uri
        self._client: MlflowClient | None = None

    def client(self) -> MlflowClient:
        if self._client is None:
            uri = self.tracking_uri
            self._client = offline_mlflow().MlflowClient(tracking_uri=uri, registry_uri=uri)
        return self._client

    def push(
        self, path: Path, *, message: str | None = None, alias: str | None = None
    ) -> PushResult:
        """Register the file's text as a new version (unless its latest version is that text)."""
        source = PromptSource.read(path)
        template = PromptTemplate.parse(
            name=source.name,
            version="draft",
            system=source.system,
            user=source.user,
            examples=source.examples,
            answer=source.answer,
        )
        client = self.client()
        found = self._search(source.name)
        if found and (found[0].tags or {}).get(DIGEST_TAG) == template.digest:
            version, created = str(found[0].version), False
        else:
            registered = client.register_prompt(
                name=source.name,
                template=to_chat(template),
                commit_message=message or f"from {path.name}",
                tags={DIGEST_TAG: template.digest, SOURCE_TAG: path.name}
                | ({ANSWER_TAG: template.answer} if template.answer != "full" else {}),
            )
            version, created = str(registered.version), True
        if alias is not None:
            client.set_prompt_alias(source.name, alias=alias, version=int(version))
        return PushResult(source.name, version, created)

    def load(self, name: str, ref: str) -> PromptTemplate:
        """A version by number (``"3"``) or by alias (``"@production"``)."""
        client = self.client()
        try:
            if ref.startswith("@"):
                found = client.get_prompt_version_by_alias(name, ref[1:])
            else:
                if not ref.isdigit():
                    raise PromptError(f"{ref!r} is neither a version number nor an @alias")
                found = client.get_prompt_version(name, int(ref))
        except PromptError:
            raise
        except Exception as exc:
            if _is_missing(exc):
                raise PromptError(f"prompt {name!r} has no version {ref}") from None
            raise
        if found is None:
            raise PromptError(f"prompt {name!r} has no version {ref}")
        answer = (found.tags or {}).get(ANSWER_TAG, "full")
        return from_chat(name, str(found.version), found.template, answer)

    def set_alias(self, name: str, alias: str, version: str) -> None:
        if not version.isdigit():
            raise PromptError(f"{version!r} is not a version number")
        self.load(name, version)  # refuse an alias to a version that does not exist
        self.client().set_prompt_alias(name, alias=alias, version=int(version))

    def versions(self, name: str) -> list[PromptVersionInfo]:
        """Every version of the prompt, newest first (empty when it is not registered)."""
        client = self.client()
        # Search results leave aliases out; each version fetched alone carries them.
        found = [client.get_prompt_version(name, v.version) or v for v in self._search(name)]
        return [
            PromptVersionInfo(
                version=str(v.version),
                aliases=tuple(sorted(getattr(v, "aliases", None) or ())),
                digest=(v.tags or {}).get(DIGEST_TAG, ""),
                message=v.commit_message or "",
                created_at_ms=int(v.creation_timestamp or 0),
            )
            for v in found
        ]

    def _search(self, name: str) -> list[Any]:
        """The prompt's versions as MLflow gives them, newest first."""
        try:
            found = self.client().search_prompt_versions(name, max_results=1000)
        except Exception as exc:
            if _is_missing(exc):
                return []
            raise
        return sorted(found, key=lambda v: int(v.version), reverse=True)


class LivePrompts:
    """The prompt the ``alias`` points at, looked up every ``refresh_s`` seconds off the
    request path, plus any pinned references (experiment variants).

    Until the registry answers, and whenever it fails, the last good templates are kept;
    before the first answer that is the repository's file (version ``file-…``).
    """

    def __init__(
        self,
        registry: PromptRegistry | None,
        *,
        name: str,
        alias: str,
        shipped: Path,
        refresh_s: float,
        pinned: Iterable[str] = (),
    ) -> None:
        self._registry = registry
        self._name = name
        self._alias = alias
        self._shipped = shipped
        self._refresh_s = refresh_s
        self._pinned = tuple(dict.fromkeys(pinned))
        self._current = PromptTemplate.load(shipped)
        self._by_ref: dict[str, PromptTemplate] = {}
        self._error: str | None = None
        self._loaded = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if registry is None:
            self._loaded.set()

    @property
    def alias(self) -> str:
        return self._alias

    def current(self) -> PromptTemplate:
        return self._current

    def pinned(self, ref: str) -> PromptTemplate | None:
        """A pinned version or alias, once loaded; None until then or when it does not exist."""
        return self._by_ref.get(ref)

    def refresh(self) -> None:
        """Look the alias (and the pinned references) up once; keep the last good on failure."""
        if self._registry is None:
            return
        try:
            try:
                current = self._registry.load(self._name, "@" + self._alias)
            except PromptError:
                current = self._seed()
            by_ref = {}
            for ref in self._pinned:
                try:
                    by_ref[ref] = self._registry.load(self._name, ref)
                except PromptError as exc:
                    log.warning("prompt %s %s: %s", self._name, ref, exc)
        except Exception as exc:
            self._error = f"{type(exc).__name__}: {str(exc)[:200]}"
            log.warning(
                "prompt registry unreachable, keeping version %s: %s",
                self._current.version,
                self._error,
            )
            return
        if current.version != self._current.version:
            log.info("prompt %s@%s is now version %s", self._name, self._alias, current.version)
        self._current, self._by_ref, self._error = current, by_ref, None
        self._loaded.set()

    def _seed(self) -> PromptTemplate:
        """A registry without the alias yet (first start): register the shipped file there."""
        assert self._registry is not None
        pushed = self._registry.push(self._shipped, message="shipped prompt", alias=self._alias)
        log.info("registered the shipped prompt as %s version %s", pushed.name, pushed.version)
        return self._registry.load(self._name, "@" + self._alias)

    def start(self) -> None:
        """Look up at once, then every ``refresh_s`` seconds, on a thread of its own."""
        if self._registry is None or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="prompt-registry", daemon=True)
        self._thread.start()

    def wait_loaded(self, timeout: float) -> bool:
        return self._loaded.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self._stop.wait(self._refresh_s)

    def status(self) -> dict[str, Any]:
        return {
            "ok": self._error is None and self._loaded.is_set(),
            "degraded_only": True,  # the last good (or shipped) prompt keeps serving
            "name": self._name,
            "alias": self._alias,
            "version": self._current.version,
            **({"error": self._error} if self._error else {}),
            # Experiment variants whose prompt is not loaded serve the control meanwhile.
            **({"missing": missing} if (missing := self._missing()) else {}),
        }

    def _missing(self) -> list[str]:
        if self._registry is None or not self._loaded.is_set():
            return []
        return [ref for ref in self._pinned if ref not in self._by_ref]


def _is_missing(exc: Exception) -> bool:
    code = getattr(exc, "error_code", "")
    return code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE")


def template_for(registry: PromptRegistry, name: str, ref: str, shipped: Path) -> PromptTemplate:
    """A version by number, by ``@alias``, or ``file-…`` for the repository's file (only
    while the file still holds that text)."""
    if ref.startswith("file-"):
        template = PromptTemplate.load(shipped)
        if template.version != ref:
            raise PromptError(
                f"prompt {ref} came from the repository's file, which now holds "
                f"{template.version}; push that text to the registry to keep it"
            )
        return template
    return registry.load(name, ref)
