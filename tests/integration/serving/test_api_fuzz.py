"""The API fuzzed against its contract, openapi/openapi.yaml, with schemathesis.

Every operation gets generated requests, valid and invalid, as the gateway: no 5xx, and
every response (status, content type, body) must be one the contract describes. The
number of examples is bounded so the suite stays fast; NUDGE_FUZZ_EXAMPLES raises it.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, openapi
from schemathesis.specs.openapi import checks

from ml.serving.llm.fake import FakeLLM
from nudge.bootstrap import bootstrap, build_app
from nudge.demo.seed import seed_demo
from nudge.runtime import Nudge
from tests.conftest import FixedClock

CONTRACT = Path(__file__).resolve().parents[3] / "openapi" / "openapi.yaml"
EXAMPLES = int(os.environ.get("NUDGE_FUZZ_EXAMPLES", "12"))
OPERATIONS = [
    (op.method.upper(), op.path)
    for op in (result.ok() for result in openapi.from_path(CONTRACT).get_all_operations())
]
# Negative cases need something to break: parameters or a body.
_TAKES_INPUT = {
    (method.upper(), path)
    for path, ops in yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))["paths"].items()
    for method, op in ops.items()
    if op.get("parameters") or op.get("requestBody")
}
CASES = [(m, p, GenerationMode.POSITIVE) for m, p in OPERATIONS] + [
    (m, p, GenerationMode.NEGATIVE) for m, p in OPERATIONS if (m, p) in _TAKES_INPUT
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Nudge, Any]]:
    """One app for the module on SQLite, with the demo users (fuzzing writes freely)."""
    from nudge.settings import Settings

    data = tmp_path_factory.mktemp("fuzz")
    clock = FixedClock()
    nudge = bootstrap(
        Settings(
            data_dir=data,
            database_url=None,
            nats_url=None,
            embedded_llm=False,
            scheduler=False,
            watch_manifests=False,
            tip_rate_limit="100000/minute",
        ),
        clock=clock,
        llm=FakeLLM(),
    )
    seed_demo(nudge, clock())
    nudge.sweeper.sweep_all()
    schema = openapi.from_path(CONTRACT)
    schema.app = build_app(nudge, start=False)
    yield nudge, schema
    nudge.stop()


def test_the_contract_has_every_route() -> None:
    assert len(OPERATIONS) >= 19
    assert ("GET", "/v1/users/{user_id}/tip") in OPERATIONS


@pytest.mark.parametrize(
    ("method", "path", "mode"), CASES, ids=[f"{mode.value} {m} {p}" for m, p, mode in CASES]
)
def test_no_5xx_and_every_response_matches_the_contract(
    world: tuple[Nudge, Any], method: str, path: str, mode: GenerationMode
) -> None:
    nudge, schema = world
    operation = schema[path][method]
    auth = {"Authorization": f"Bearer {nudge.credentials.admin_token}"}
    # Known users half of the time, so valid requests reach past the 404 for unknown ids.
    known = {"user_id": st.sampled_from(["alice", "bob"])} if "{user_id}" in path else {}
    statuses: Counter[int] = Counter()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        fixed = (
            {k: data.draw(v) for k, v in known.items()}
            if known and data.draw(st.booleans())
            else None
        )
        case = data.draw(operation.as_strategy(mode, path_parameters=fixed))
        response = case.call(headers=auth)
        statuses[response.status_code] += 1
        assert response.status_code < 500, (case.method, case.formatted_path, response.text)
        assert "Traceback" not in response.text
        # Valid-by-schema requests may still be refused on meaning (a zone name that is
        # not in the tz database, a time in the past, an unknown id): 4xx, not a failure.
        case.validate_response(
            response, headers=auth, excluded_checks=[checks.positive_data_acceptance]
        )

    run()
    assert statuses, "nothing was generated"
