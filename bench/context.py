"""What every benchmark receives: options, output, targets, and resources shared in a run.

Also the settings of a Nudge that a benchmark starts in its own process (``bench_settings``)
and of its ``nudge`` subprocesses (``settings_env``).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TextIO

from bench.stats import Goal, fmt_target, meets

if TYPE_CHECKING:
    from ml.serving.llm.embedded_server import EmbeddedLLM
    from nudge.settings import Settings

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True, slots=True)
class Check:
    """One target of one benchmark, and whether this run met it."""

    benchmark: str
    metric: str
    value: float
    target: float
    goal: Goal
    note: str = ""
    valid: bool = True
    """False when the samples cannot support the figure (e.g. the LLM timed out)."""

    @property
    def ok(self) -> bool:
        return self.valid and meets(self.value, self.target, self.goal)

    @property
    def verdict(self) -> str:
        if not self.valid:
            return "INVALID"
        return "ok" if self.ok else "MISS"

    def as_dict(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "metric": self.metric,
            "value": self.value,
            "target": fmt_target(self.target, self.goal),
            "ok": self.ok,
            "valid": self.valid,
            "verdict": self.verdict,
            "note": self.note,
        }


@dataclass
class BenchContext:
    quick: bool = False
    backends: tuple[str, ...] = ("sqlite", "postgres")
    pg_url: str = DEFAULT_PG_URL
    stream: TextIO = field(default_factory=lambda: sys.stdout)
    checks: list[Check] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    shared: dict[str, Any] = field(default_factory=dict)
    _cleanups: list[Callable[[], object]] = field(default_factory=list)
    _tmp: tempfile.TemporaryDirectory[str] | None = None

    def say(self, text: str = "") -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def n(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def check(
        self,
        benchmark: str,
        metric: str,
        value: float,
        target: float,
        goal: Goal,
        note: str = "",
        *,
        valid: bool = True,
    ) -> Check:
        found = Check(benchmark, metric, value, target, goal, note, valid)
        if not valid:
            self.say(f"INVALID: {metric}: {note}")
        self.checks.append(found)
        return found

    def tmpdir(self, prefix: str) -> Path:
        """A fresh directory, removed when the run ends."""
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="nudge-bench-")
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self._tmp.name))

    def on_close(self, cleanup: Callable[[], object]) -> None:
        self._cleanups.append(cleanup)

    def embedded_llm(self) -> EmbeddedLLM:
        """The run's one in-process embedded LLM, started on a free port at first use."""
        llm: EmbeddedLLM | None = self.shared.get("embedded_llm")
        if llm is None:
            from bench.net import free_port
            from ml.serving.llm.embedded_server import EmbeddedLLM

            llm = EmbeddedLLM(port=free_port())
            llm.start()
            self.shared["embedded_llm"] = llm
        return llm

    def stop_embedded_llm(self) -> None:
        llm: EmbeddedLLM | None = self.shared.pop("embedded_llm", None)
        if llm is not None:
            llm.stop()

    def close(self) -> None:
        self.stop_embedded_llm()
        while self._cleanups:
            try:
                self._cleanups.pop()()
            except Exception as exc:  # a failed cleanup must not hide the results
                self.say(f"warning: cleanup failed: {exc!r}")
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


# What every benchmark's own Nudge turns off: the embedded LLM (a run shares one, see
# BenchContext.embedded_llm), the scheduler and the manifest watcher (a benchmark sweeps
# when it means to, over manifests that do not change).
BENCH_OVERRIDES: Mapping[str, bool] = MappingProxyType(
    {"embedded_llm": False, "scheduler": False, "watch_manifests": False}
)


def bench_settings(
    data_dir: Path,
    *,
    database_url: str | None = None,
    nats_url: str | None = None,
    water: bool = False,
    llm_temperature: float | None = None,
    tip_rate_limit: str | None = None,
) -> Settings:
    """The settings of a Nudge a benchmark runs in its own process.

    BENCH_OVERRIDES always; data under `data_dir`; SQLite there unless `database_url`; no
    bus unless `nats_url`. `water`: a copy of the shipped manifests plus the README's
    ``water`` agent, under ``data_dir / "manifests"``. `llm_temperature` and
    `tip_rate_limit` when given (else the configured ones). Other fields: as configured.
    """
    from nudge.settings import Settings

    fields: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "nats_url": nats_url,
        **BENCH_OVERRIDES,
    }
    if water:
        from bench.bulk_data import WATER_MANIFEST

        manifests = data_dir / "manifests"
        shutil.copytree(Settings().manifests_dir, manifests)
        (manifests / "water.yaml").write_text(WATER_MANIFEST, encoding="utf-8")
        fields["manifests_dir"] = manifests
    if llm_temperature is not None:
        fields["llm_temperature"] = llm_temperature
    if tip_rate_limit is not None:
        fields["tip_rate_limit"] = tip_rate_limit
    return Settings(**fields)


def settings_env(settings: Settings) -> dict[str, str]:
    """`settings`' benchmark fields as environment variables, for a ``nudge`` subprocess."""
    env = {
        "NUDGE_DATA_DIR": str(settings.data_dir),
        "NUDGE_MANIFESTS_DIR": str(settings.manifests_dir),
        **{f"NUDGE_{name.upper()}": str(value).lower() for name, value in BENCH_OVERRIDES.items()},
    }
    if settings.database_url is not None:
        env["DATABASE_URL"] = settings.database_url
    if settings.nats_url is not None:
        env["NATS_URL"] = settings.nats_url
    return env
