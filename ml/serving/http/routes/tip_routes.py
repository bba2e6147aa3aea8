"""Tips: ask for one, explain it, react to it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from ml.registry.registry import Registry
from ml.serving.http.auth import Caller, CallerDependency, require_owner
from ml.serving.http.error_responses import ErrorResponse
from ml.serving.http.ratelimit import TipRateLimit
from ml.serving.http.routes.profile_routes import UserIdPath
from ml.serving.http.schemas import FeedbackIn, FeedbackOut, TipItemOut, TipOut
from ml.serving.tip.explain import explain as explain_tip
from ml.serving.tip.explanation import ExplainOut
from ml.serving.tip.orchestrator import Orchestrator, ServedTip
from ml.serving.tip.tip_store import TipStore
from nudge_infra.clock import Clock
from nudge_infra.errors import Invalid

TipIdPath = Annotated[
    str,
    Path(
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        description="a tip id",
    ),
]


WaitQuery = Annotated[
    float | None,
    Query(
        ge=0,
        le=30,
        description="seconds to wait for the model when there is no tip to show yet "
        "(default: NUDGE_TIP_WAIT_S); then the fallback, replaced once the model answers",
    ),
]


def tip_out(served: ServedTip) -> TipOut:
    t = served.tip
    return TipOut(
        tip_id=t.tip_id,
        text=t.text,
        rationale=t.rationale,
        agents=t.agents,
        items=[TipItemOut(**i) for i in t.items],
        fallback=t.fallback,
        cached=served.cached,
        stale=served.stale,
        created_at=t.created_at,
    )


def make_router(
    orchestrator: Orchestrator,
    tips: TipStore,
    clock: Clock,
    caller: CallerDependency,
    rate: TipRateLimit,
    on_served: Callable[[ServedTip], None],
    registry: Callable[[], Registry],
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["tips"], dependencies=[Depends(caller)])

    @router.get(
        "/users/{user_id}/tip",
        response_model=TipOut,
        responses={429: {"model": ErrorResponse, "description": "rate limited; see Retry-After"}},
    )
    async def get_tip(
        user_id: UserIdPath,
        who: Caller = Depends(caller),
        refresh: Annotated[
            bool, Query(description="write a new tip even if nothing changed since the last one")
        ] = False,
        wait: WaitQuery = None,
    ) -> TipOut:
        """One tip for the user, with the agents it is based on. Never waits for the model
        when a previous tip can be shown: that one comes back marked `stale` while the new
        one is written."""
        rate.check(who, user_id)
        served = await orchestrator.tip_for(user_id, refresh=refresh, wait=wait)
        on_served(served)
        return tip_out(served)

    @router.get("/users/{user_id}/tips", response_model=list[TipOut])
    def list_tips(
        user_id: UserIdPath,
        limit: Annotated[int, Query(ge=1, le=100, description="how many, newest first")] = 20,
    ) -> list[TipOut]:
        """The user's recent tips, newest first (served from cache or not)."""
        return [tip_out(ServedTip(t, cached=False)) for t in tips.recent(user_id, limit)]

    @router.get("/tips/{tip_id}/explain", response_model=ExplainOut)
    def explain(tip_id: TipIdPath, who: Caller = Depends(caller)) -> ExplainOut:
        """The provenance of a tip: what was cited, what was excluded and why, how it was made."""
        t = tips.get(tip_id)
        require_owner(who, t.user_id)
        return explain_tip(t, tips.feedback_of(tip_id), registry())

    @router.post("/tips/{tip_id}/feedback", response_model=FeedbackOut)
    def feedback(tip_id: TipIdPath, body: FeedbackIn, who: Caller = Depends(caller)) -> FeedbackOut:
        """Record done, snooze (until a time) or dismiss; repeating a reaction changes nothing."""
        require_owner(who, tips.owner_of(tip_id))
        now = clock()
        _check_snooze(body, now)
        recorded, new = tips.record_feedback(
            tip_id, body.reaction, body.snooze_until, now, registry=registry(), items=body.items
        )
        return FeedbackOut(**recorded, new=new)

    return router


def _check_snooze(body: FeedbackIn, now: datetime) -> None:
    """Reject a snooze without a future, zone-aware time, and a time on any other reaction."""
    if body.reaction == "snooze":
        if body.snooze_until is None:
            raise Invalid(
                "snooze_until is required for snooze",
                details=[{"field": "snooze_until", "reason": "required"}],
            )
        if body.snooze_until.tzinfo is None:
            raise Invalid(
                "snooze_until needs a time zone offset",
                details=[{"field": "snooze_until", "reason": "naive time"}],
            )
        if body.snooze_until <= now:
            raise Invalid(
                "snooze_until must be in the future",
                details=[{"field": "snooze_until", "reason": "in the past"}],
            )
    elif body.snooze_until is not None:
        raise Invalid(
            "snooze_until is only for snooze",
            details=[{"field": "snooze_until", "reason": "not allowed"}],
        )
