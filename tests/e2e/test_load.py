"""A short loopback load on a real ``nudge run``: no errors, memory flat.

The full run (50 callers for 60 s) is ``python -m bench --only load``; this one keeps
the suite fast with 20 callers for 15 s and the same checks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.load import add_users, drive, sweep_now
from bench.product import ProductProcess

pytestmark = pytest.mark.llm


@pytest.fixture
def product(tmp_path: Path) -> Iterator[ProductProcess]:
    process = ProductProcess.spawn(tmp_path)
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def test_tip_endpoint_under_load_has_no_errors_and_flat_memory(product: ProductProcess) -> None:
    users = ["alice", "bob", *add_users(product)]
    sweep_now(product)
    result = asyncio.run(drive(product, users, callers=20, seconds=15, refresh_share=0.1))
    served = sum(len(v) for v in result["latencies"].values())
    assert served > 20
    assert not result["errors"], result["errors"]
    rss = [kib for _, kib in result["rss"]]
    assert max(rss) < 1.15 * rss[0], rss  # no growth beyond warm-up noise
