"""`nudge api`: HTTP and the relay only; it is ready without a scheduler of its own."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ml.serving.llm.fake import FakeLLM
from nudge.bootstrap import bootstrap, build_app
from tests.conftest import MakeSettings, gateway_headers


def test_api_mode_runs_no_scheduler_and_is_ready(sqlite_settings: MakeSettings) -> None:
    nudge = bootstrap(sqlite_settings(scheduler=True), llm=FakeLLM())
    app = build_app(nudge, sweep_now=False, scheduler=False)  # what `nudge api` serves
    with TestClient(app, headers=gateway_headers(nudge)) as client:
        ready = client.get("/readyz")
        assert nudge.scheduler is None
        assert "scheduler" not in ready.json()["checks"]
        assert ready.json()["checks"]["database"]["ok"] is True
        assert client.get("/v1/agents").status_code == 200
    nudge.stop()


def test_all_in_one_mode_reports_its_scheduler(sqlite_settings: MakeSettings) -> None:
    nudge = bootstrap(sqlite_settings(scheduler=True), llm=FakeLLM())
    with TestClient(build_app(nudge, sweep_now=False), headers=gateway_headers(nudge)) as client:
        checks = client.get("/readyz").json()["checks"]
        assert checks["scheduler"] == {"ok": True}
    nudge.stop()
