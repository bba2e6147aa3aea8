"""The benchmarks' pure helpers, and that every benchmark module imports (no timing)."""

from __future__ import annotations

import importlib
import json
import math
import sys
from pathlib import Path

import pytest

from bench.__main__ import BENCHMARKS, _names
from bench.context import BenchContext
from bench.net import (
    AUDIT_WRAPPER,
    audit_control,
    decode_proc_address,
    is_loopback_host,
    read_audit_log,
)
from bench.stats import (
    fmt_bytes,
    fmt_ci,
    fmt_ms,
    fmt_ratio,
    fmt_target,
    paired_ratio_ci,
    percentile,
    ratio,
    render_table,
    summarize,
    verdict,
)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_each_benchmark_module_imports_and_has_a_run(name: str) -> None:
    module = importlib.import_module(f"bench.{name}")
    assert name == module.NAME
    assert callable(module.run)


@pytest.mark.parametrize(
    "name", ["appserver", "context", "bulk_data", "demo_nudge", "machine", "net", "product"]
)
def test_each_helper_module_imports(name: str) -> None:
    importlib.import_module(f"bench.{name}")


def test_dataset_snippets_are_about_300_characters() -> None:
    import random

    from bench.bulk_data import _snippet

    rng = random.Random(1)
    lengths = [len(_snippet(rng, "reading_list")) for _ in range(50)]
    assert min(lengths) >= 250 and max(lengths) <= 300


def test_percentile_interpolates_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 100.0
    assert percentile([3.0], 99) == 3.0
    assert percentile([5.0, 1.0], 50) == 3.0  # order of the input does not matter


def test_percentile_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_summary() -> None:
    s = summarize([1.0, 2.0, 3.0, 4.0])
    assert (s.n, s.p50, s.min, s.max, s.mean) == (4, 2.5, 1.0, 4.0, 2.5)


def test_ratio_and_verdicts() -> None:
    assert ratio(1.05, 1.0) == pytest.approx(1.05)
    assert math.isinf(ratio(1.0, 0.0))
    assert ratio(0.0, 0.0) == 1.0
    assert fmt_ratio(1.0349) == "1.03x"
    assert fmt_ratio(math.inf) == "inf"
    assert fmt_target(1.05, "at_most") == "<= 1.05"
    assert fmt_target(0.8, "at_least") == ">= 0.8"
    assert verdict(1.05, 1.05, "at_most") == "ok"
    assert verdict(1.06, 1.05, "at_most") == "MISS"
    assert verdict(0.79, 0.8, "at_least") == "MISS"


def test_paired_ratio_interval_brackets_the_ratio() -> None:
    floor = [1.0 + (i % 7) / 100 for i in range(200)]
    measured = [2 * x for x in floor]
    low, high = paired_ratio_ci(measured, floor, 50, rounds=50)
    assert low == pytest.approx(2.0) and high == pytest.approx(2.0)
    assert fmt_ci((1.5, 2.25)) == "95% CI 1.50-2.25x"
    with pytest.raises(ValueError):
        paired_ratio_ci([1.0], [1.0, 2.0], 50)


def test_units() -> None:
    assert fmt_ms(0.000_250) == "250 µs"
    assert fmt_ms(0.012_345) == "12.35 ms"
    assert fmt_ms(2.5) == "2.500 s"
    assert fmt_bytes(512) == "512 B"
    assert fmt_bytes(1536) == "1.5 KiB"
    assert fmt_bytes(3 * 2**30) == "3.00 GiB"


def test_table_aligns_columns() -> None:
    table = render_table(["path", "p50"], [["endpoint", "1.00 s"], ["bare", "980.00 ms"]])
    lines = table.splitlines()
    assert lines[0].startswith("path")
    assert set(lines[1]) <= {"-", " "}
    assert len({len(line) for line in lines}) == 1  # every row as wide as the header


def test_invalid_check_is_never_ok() -> None:
    ctx = BenchContext(stream=open("/dev/null", "w"))  # noqa: SIM115
    good = ctx.check("b", "m", 1.0, 2.0, "at_most")
    void = ctx.check("b", "m", 1.0, 2.0, "at_most", "timed out", valid=False)
    assert (good.verdict, void.verdict) == ("ok", "INVALID")
    assert not void.ok
    ctx.stream.close()


def test_only_selects_known_benchmarks_in_run_order() -> None:
    assert _names("memory,cold_start") == ["cold_start", "memory"]
    assert _names("") == list(BENCHMARKS)
    with pytest.raises(SystemExit):
        _names("nope")


def test_loopback_classification() -> None:
    for host in ("127.0.0.1", "127.8.9.1", "::1", "localhost", "::ffff:127.0.0.1", None, "/tmp/s"):
        assert is_loopback_host(host), host
    for host in ("10.0.0.1", "8.8.8.8", "raw.githubusercontent.com", "2001:db8::1"):
        assert not is_loopback_host(host), host


def test_decode_proc_net_addresses() -> None:
    assert decode_proc_address("0100007F:1F90") == ("127.0.0.1", 8080)
    assert decode_proc_address("00000000000000000000000001000000:0050") == ("::1", 80)
    assert decode_proc_address("0000000000000000FFFF00000100007F:01BB") == (
        "::ffff:7f00:1",
        443,
    )
    assert is_loopback_host("::ffff:7f00:1")


def test_audit_log_parsing(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    records = [
        {"event": "socket.connect", "address": ["127.0.0.1", 8088], "t": 1.0},
        {"event": "socket.getaddrinfo", "address": ["raw.githubusercontent.com", 443], "t": 2.0},
        {"event": "socket.connect", "address": "/run/x.sock", "t": 3.0},
        {"event": "hook-error", "error": "boom"},
    ]
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    events = read_audit_log(log)
    assert [e.loopback for e in events] == [True, False, True, False]
    assert str(events[1]) == "socket.getaddrinfo raw.githubusercontent.com:443"


def test_audit_wrapper_compiles() -> None:
    compile(AUDIT_WRAPPER, "<audit-wrapper>", "exec")


def test_audit_hook_reports_a_non_loopback_attempt(tmp_path: Path) -> None:
    events = audit_control(sys.executable, tmp_path / "control.jsonl")
    assert any(e.event == "socket.connect" and not e.loopback for e in events)


def test_bench_settings_hold_every_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.context import BENCH_OVERRIDES, bench_settings, settings_env
    from nudge.settings import Settings

    settings = bench_settings(
        tmp_path, database_url="postgresql://db/x", nats_url="nats://127.0.0.1:1", water=True
    )
    assert {name: getattr(settings, name) for name in BENCH_OVERRIDES} == BENCH_OVERRIDES
    assert (settings.data_dir, settings.manifests_dir) == (tmp_path, tmp_path / "manifests")
    assert (tmp_path / "manifests" / "water.yaml").is_file()
    # A `nudge` subprocess given settings_env reads the same settings.
    for key, value in settings_env(settings).items():
        monkeypatch.setenv(key, value)
    assert Settings() == settings


def test_bench_settings_leave_the_rest_as_configured(tmp_path: Path) -> None:
    from bench.context import bench_settings
    from nudge.settings import Settings

    demo = bench_settings(tmp_path / "demo", llm_temperature=0.0, tip_rate_limit="9/second")
    assert (demo.database_url, demo.nats_url, demo.llm_temperature) == (None, None, 0.0)
    assert demo.tip_rate_limit == "9/second"
    assert demo.manifests_dir == Settings().manifests_dir


def test_all_consents_are_the_demo_users_full_set(tmp_path: Path) -> None:
    from bench.bulk_data import all_consents
    from bench.context import bench_settings
    from ml.registry.loader import load_registry
    from nudge.demo.data import demo_users

    settings = bench_settings(tmp_path, water=True)
    registry = load_registry(settings.manifests_dir, allowed_packages=settings.agent_packages)
    most = max((u.granted for u in demo_users()), key=len)
    assert all_consents(registry) == sorted(most)
