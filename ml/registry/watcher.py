"""Keep a registry in step with its manifest directory, without a restart."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from watchfiles import watch

from ml.registry.files import read_sources
from ml.registry.loader import DEFAULT_ALLOWED_PACKAGES, load_registry
from ml.registry.registry import Registry
from nudge_profile.signal_kinds import SignalKinds

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0
_DEBOUNCE_MS = 200


class LiveRegistry:
    """The latest Registry of a directory, reloaded when a manifest is added, changed or removed.

    ``current`` is swapped in one assignment once a load is complete, so a reader gets
    either the previous snapshot or the new one, never a mix. Change notifications come
    from the OS when available; a fingerprint poll every second covers the containers
    where they are not (no inotify, network mounts) and any event the OS drops.
    """

    def __init__(
        self,
        directory: Path,
        allowed_packages: Sequence[str] = DEFAULT_ALLOWED_PACKAGES,
        on_change: Callable[[Registry], None] | None = None,
        signal_kinds: SignalKinds | None = None,
    ) -> None:
        self._directory = directory
        self._allowed_packages = tuple(allowed_packages)
        self._kinds = signal_kinds
        self.on_change = on_change
        # Reentrant so that on_change may itself call reload().
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._current = load_registry(
            directory, allowed_packages=self._allowed_packages, signal_kinds=self._kinds
        )
        _log_loaded(self._current)

    @property
    def current(self) -> Registry:
        return self._current

    def reload(self) -> Registry:
        """Load the directory now, publish the result and return it."""
        with self._lock:
            previous = self._current
            registry = load_registry(
                self._directory, allowed_packages=self._allowed_packages, signal_kinds=self._kinds
            )
            self._current = registry
            if registry.fingerprint != previous.fingerprint:
                _log_loaded(registry)
                self._notify(registry)
        return registry

    def start(self) -> None:
        """Start following the directory in a background thread; a no-op when already started."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="manifest-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop following the directory and wait for the thread to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> LiveRegistry:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            # yield_on_timeout wakes the loop every POLL_SECONDS even without events,
            # which is when the fingerprint poll runs.
            for _changes in watch(
                self._directory,
                stop_event=self._stop,
                debounce=_DEBOUNCE_MS,
                rust_timeout=int(POLL_SECONDS * 1000),
                yield_on_timeout=True,
                raise_interrupt=False,
                recursive=False,
            ):
                self._refresh()
        except Exception:
            logger.warning(
                "cannot watch %s for changes; polling every %.0f s instead",
                self._directory,
                POLL_SECONDS,
                exc_info=True,
            )
        while not self._stop.wait(POLL_SECONDS):
            self._refresh()

    def _refresh(self) -> None:
        try:
            if read_sources(self._directory).fingerprint != self._current.fingerprint:
                self.reload()
        except Exception:  # the watcher must outlive any one bad reload
            logger.exception("reloading manifests from %s failed", self._directory)

    def _notify(self, registry: Registry) -> None:
        if self.on_change is None:
            return
        try:
            self.on_change(registry)
        except Exception:
            logger.exception("on_change callback failed; the new registry is in place")


def _log_loaded(registry: Registry) -> None:
    logger.info(
        "manifests loaded: %d agents, %d errors", len(registry.agents), len(registry.errors)
    )
    for error in registry.errors:
        logger.warning("manifest rejected: %s", error)
