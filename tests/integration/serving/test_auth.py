"""Authentication and authorisation on every /v1 route, walked from the OpenAPI document."""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from ml.serving.llm.fake import FakeLLM
from nudge.bootstrap import bootstrap, build_app
from nudge.credentials import GATEWAY_FILE, JWT_FILE
from nudge.runtime import Nudge
from nudge.settings import Settings
from tests.conftest import FixedClock, MakeSettings

# Markers planted in user B's data: none may appear in any answer to user A.
B_SECRET_PREF = "b-private-pref-7f3a"
B_SECRET_SIGNAL = "b-private-signal-91c2"
B_TIP_TEXT = f"Send the {B_SECRET_SIGNAL} form to Bertrand."


@dataclass
class World:
    nudge: Nudge
    client: TestClient
    b_tip: str

    def bearer(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def user(self, user_id: str, **kw: Any) -> dict[str, str]:
        return self.bearer(self.nudge.auth.issue(user_id, ttl=timedelta(hours=1), **kw))

    @property
    def gateway(self) -> dict[str, str]:
        return self.bearer(self.nudge.credentials.gateway_token)

    @property
    def admin(self) -> dict[str, str]:
        return self.bearer(self.nudge.credentials.admin_token)


@pytest.fixture
def world(settings_for: MakeSettings, clock: FixedClock) -> Iterator[World]:
    llm = FakeLLM()
    nudge = bootstrap(settings_for(tip_rate_limit="1000/minute"), clock=clock, llm=llm)
    with TestClient(build_app(nudge, start=False), raise_server_exceptions=False) as client:
        g = {"Authorization": f"Bearer {nudge.credentials.gateway_token}"}
        for user in ("usera", "userb"):
            assert client.put(f"/v1/users/{user}", json={"timezone": "UTC"}, headers=g).is_success
        client.put("/v1/users/userb/prefs", json={"preferences": {"p": B_SECRET_PREF}}, headers=g)
        client.put("/v1/users/userb/consents/tasks.read", json={"granted": True}, headers=g)
        signal = {
            "kind": "task",
            "external_id": "t1",
            "payload": {"title": B_SECRET_SIGNAL, "due": "2026-11-21"},
            "occurred_at": "2026-11-20T10:00:00Z",
        }
        assert client.post(
            "/v1/users/userb/signals", json={"signals": [signal]}, headers=g
        ).is_success
        nudge.sweeper.sweep_all()
        llm.push(json.dumps({"tip": B_TIP_TEXT, "agents": ["tasks"], "rationale": "It is due."}))
        tip = client.get("/v1/users/userb/tip", headers=g)
        assert tip.status_code == 200, tip.text
        yield World(nudge, client, tip.json()["tip_id"])
    nudge.stop()


def _routes(client: TestClient) -> list[tuple[str, str]]:
    spec = client.get("/openapi.json").json()
    return [
        (method.upper(), path)
        for path, ops in spec["paths"].items()
        for method in ops
        if path.startswith("/v1/")
    ]


def _fill(path: str, user: str, tip_id: str) -> str:
    values = {"user_id": user, "tip_id": tip_id, "key": "tasks.read", "kind": "task"}
    values["name"] = "some-experiment"
    values["external_id"] = "t1"
    return re.sub(r"{(\w+)}", lambda m: values[m.group(1)], path)


def _body(method: str, path: str) -> Any:
    if method not in ("POST", "PUT"):
        return None
    if path.endswith("/signals"):
        return {"signals": []}
    if path.endswith("/feedback"):
        return {"reaction": "done"}
    if path.endswith("/consents/{key}"):
        return {"granted": False}
    if path.endswith("/context"):
        return {"name": "vacation"}
    if path.endswith("/prefs"):
        return {"preferences": {}}
    if path == "/v1/users/{user_id}":
        return {"timezone": "UTC"}
    return {}


def test_every_v1_route_needs_a_credential(world: World) -> None:
    routes = _routes(world.client)
    assert len(routes) >= 15
    for method, path in routes:
        url = _fill(path, "userb", world.b_tip)
        for headers in ({}, world.bearer("not-a-token"), {"Authorization": "Basic dXNlcg=="}):
            r = world.client.request(method, url, json=_body(method, path), headers=headers)
            assert r.status_code == 401, (method, path, headers, r.text)
            assert r.json()["error"]["code"] == "unauthorized"
            assert r.headers["www-authenticate"].startswith("Bearer")


def test_health_and_metrics_need_no_credential(world: World) -> None:
    assert world.client.get("/healthz").status_code == 200
    assert world.client.get("/readyz").status_code in (200, 503)


def test_a_user_token_never_reaches_another_users_data(world: World) -> None:
    a = world.user("usera")
    tried = 0
    for method, path in _routes(world.client):
        if "{user_id}" not in path and "{tip_id}" not in path and path != "/v1/agents":
            continue
        url = _fill(path, "userb", world.b_tip)
        r = world.client.request(method, url, json=_body(method, path), headers=a)
        tried += 1
        assert not r.is_success, (method, path, r.status_code, r.text)
        assert r.status_code in (403, 404, 422), (method, path, r.status_code)
        for marker in (B_SECRET_PREF, B_SECRET_SIGNAL, B_TIP_TEXT, "b-private"):
            assert marker not in r.text, (method, path)
    assert tried >= 14
    # Nothing of B changed: the profile, the signal and the tip are still there.
    g = world.gateway
    assert B_SECRET_PREF in world.client.get("/v1/users/userb/profile", headers=g).text
    assert world.client.get(f"/v1/tips/{world.b_tip}/explain", headers=g).status_code == 200
    export = world.client.get("/v1/users/userb/export", headers=g).json()
    assert [s["external_id"] for s in export["signals"]] == ["t1"]
    assert export["tip_feedback"] == []


def test_a_user_token_acts_for_its_own_user(world: World) -> None:
    b = world.user("userb")
    assert B_SECRET_PREF in world.client.get("/v1/users/userb/profile", headers=b).text
    explain = world.client.get(f"/v1/tips/{world.b_tip}/explain", headers=b)
    assert explain.status_code == 200 and explain.json()["text"] == B_TIP_TEXT
    fb = world.client.post(f"/v1/tips/{world.b_tip}/feedback", json={"reaction": "done"}, headers=b)
    assert fb.status_code == 200
    # Operational routes are not for user tokens.
    assert world.client.get("/v1/agents", headers=b).status_code == 403
    assert world.client.post("/v1/agents/reload", headers=b).status_code == 403


def test_admin_scope_guards_operational_routes(world: World) -> None:
    c = world.client
    assert c.get("/v1/agents", headers=world.gateway).status_code == 200
    assert c.post("/v1/agents/reload", headers=world.gateway).status_code == 403
    reloaded = c.post("/v1/agents/reload", headers=world.admin)
    assert reloaded.status_code == 200 and reloaded.json()["agents"]
    # The gateway acts for users but cannot erase one; the admin and the user can.
    assert c.delete("/v1/users/usera", headers=world.gateway).status_code == 403
    assert c.delete("/v1/users/usera", headers=world.user("userb")).status_code == 403
    assert c.delete("/v1/users/usera", headers=world.user("usera")).status_code == 200
    assert c.delete("/v1/users/userb", headers=world.admin).status_code == 200
    assert c.get("/v1/users/userb/profile", headers=world.gateway).status_code == 404


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda w, s: jwt.encode({"sub": "userb", "exp": 1}, s, "HS256"), id="expired"),
        pytest.param(
            lambda w, s: jwt.encode({"sub": "userb", "exp": 4_000_000_000}, "x" * 40, "HS256"),
            id="other-secret",
        ),
        pytest.param(lambda w, s: jwt.encode({"sub": "userb"}, s, "HS256"), id="no-exp"),
        pytest.param(lambda w, s: jwt.encode({"exp": 4_000_000_000}, s, "HS256"), id="no-subject"),
        pytest.param(
            lambda w, s: jwt.encode({"sub": "../etc", "exp": 4_000_000_000}, s, "HS256"),
            id="bad-subject",
        ),
        pytest.param(
            lambda w, s: jwt.encode({"sub": "userb", "exp": 4_000_000_000}, None, "none"),
            id="alg-none",
        ),
        pytest.param(lambda w, s: "a.b.c", id="garbage"),
        pytest.param(lambda w, s: "x" * 5000, id="oversized"),
    ],
)
def test_bad_user_tokens_are_refused(world: World, make: Any) -> None:
    secret = world.nudge.credentials.jwt_secret
    r = world.client.get("/v1/users/userb/profile", headers=world.bearer(make(world, secret)))
    assert r.status_code == 401, r.text
    assert B_SECRET_PREF not in r.text


def test_expiry_follows_the_service_clock(world: World, clock: FixedClock) -> None:
    token = world.user("userb")
    assert world.client.get("/v1/users/userb/profile", headers=token).status_code == 200
    clock.advance(hours=2)
    r = world.client.get("/v1/users/userb/profile", headers=token)
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]


def test_the_tip_endpoint_is_rate_limited_per_caller_and_user(
    settings_for: MakeSettings, clock: FixedClock
) -> None:
    nudge = bootstrap(settings_for(tip_rate_limit="3/minute"), clock=clock, llm=FakeLLM())
    try:
        g = {"Authorization": f"Bearer {nudge.credentials.gateway_token}"}
        with TestClient(build_app(nudge, start=False), headers=g) as client:
            for user in ("ra", "rb"):
                client.put(f"/v1/users/{user}", json={"timezone": "UTC"})
            codes = [client.get("/v1/users/ra/tip").status_code for _ in range(4)]
            assert codes == [200, 200, 200, 429]
            limited = client.get("/v1/users/ra/tip")
            assert limited.status_code == 429
            assert limited.json()["error"]["code"] == "rate_limited"
            assert 1 <= int(limited.headers["retry-after"]) <= 60
            assert client.get("/v1/users/rb/tip").status_code == 200  # another user's budget
            assert client.get("/v1/users/ra/profile").status_code == 200  # other routes are free
    finally:
        nudge.stop()


def test_generated_credentials_are_private_and_stable(settings_for: MakeSettings) -> None:
    settings = settings_for()
    first = bootstrap(settings, llm=FakeLLM())
    first.stop()
    for name in (GATEWAY_FILE, JWT_FILE):
        path = settings.data_dir / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = bootstrap(settings, llm=FakeLLM())
    again.stop()
    assert again.credentials.gateway_token == first.credentials.gateway_token
    assert len(first.credentials.gateway_token) >= 32
    # Only digests of the service tokens are held by the authenticator.
    held = repr(vars(first.auth)) if hasattr(first.auth, "__dict__") else ""
    assert first.credentials.gateway_token not in held


def test_settings_refuse_weak_or_missing_production_credentials() -> None:
    with pytest.raises(ValueError, match="NUDGE_GATEWAY_TOKEN"):
        Settings(
            environment="production",
            database_url="postgresql://x/y",
            embedded_llm=False,
            _env_file=None,  # type: ignore[call-arg]
        )
    with pytest.raises(ValueError, match="at least 32"):
        Settings(gateway_token="short")  # type: ignore[arg-type]
