"""HTTP routes for users, preferences, contexts and consents."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response, status

from ml.serving.http.auth import CallerDependency
from nudge_profile.insights import Insights
from nudge_profile.model import Profile
from nudge_profile.store import AgentsRequiring, InferredUnder, ProfileStore
from nudge_profile.validation import (
    CONSENT_KEY_PATTERN,
    USER_ID_PATTERN,
    ConsentIn,
    ConsentOut,
    ContextIn,
    ContextOut,
    ForgottenOut,
    PrefsIn,
    ProfileOut,
    UserIn,
)

UserIdPath = Annotated[str, Path(pattern=USER_ID_PATTERN, description="the user's id")]
ConsentKeyPath = Annotated[str, Path(pattern=CONSENT_KEY_PATTERN, examples=["calendar.read"])]


Learned = Callable[[str], dict[str, dict[str, Any]]]
"""``learned(user_id)``: per agent, the user's counts and the policy's score."""


def profile_out(profile: Profile, **extras: Any) -> ProfileOut:
    ctx = profile.context
    return ProfileOut(
        **extras,
        user_id=profile.user_id,
        timezone=str(profile.timezone),
        active=profile.active,
        preferences=dict(profile.preferences),
        context=ContextOut(name=ctx.name, until=ctx.until, set_at=ctx.set_at) if ctx else None,
        consents=[
            ConsentOut(key=c.key, granted=c.granted, changed_at=c.changed_at)
            for c in sorted(profile.consents.values(), key=lambda c: c.key)
        ],
        created_at=profile.created_at,
        updated_at=profile.updated_at,
    )


def make_router(
    store: ProfileStore,
    agents_requiring: AgentsRequiring,
    inferred_under: InferredUnder,
    caller: CallerDependency,
    insights: Insights,
    learned: Learned,
) -> APIRouter:
    """Build the profile routes; ``caller`` is the one dependency that resolves who asks."""
    router = APIRouter(prefix="/v1/users", tags=["profile"], dependencies=[Depends(caller)])

    @router.put("/{user_id}", response_model=ProfileOut)
    def put_user(user_id: UserIdPath, body: UserIn, response: Response) -> ProfileOut:
        """Create the user, or update their time zone and active flag."""
        created = store.upsert_user(user_id, timezone=body.timezone, active=body.active)
        if created:
            response.status_code = status.HTTP_201_CREATED
        return profile_out(store.get(user_id))

    @router.get("/{user_id}/profile", response_model=ProfileOut)
    def get_profile(user_id: UserIdPath) -> ProfileOut:
        """The profile, with what Nudge inferred from the user's signals and learned from
        their reactions."""
        profile = store.get(user_id)
        inferred = {k: v.public() for k, v in insights.inferred(user_id).items()}
        return profile_out(profile, inferred=inferred, learned=learned(user_id))

    @router.delete("/{user_id}/learned", response_model=ForgottenOut)
    def forget_learned(user_id: UserIdPath) -> ForgottenOut:
        """Forget what the user's reactions taught Nudge: their tips start again from what
        works for everyone."""
        return ForgottenOut(user_id=user_id, agents=insights.forget_learned(user_id))

    @router.put("/{user_id}/prefs", response_model=ProfileOut)
    def put_prefs(user_id: UserIdPath, body: PrefsIn) -> ProfileOut:
        """Replace the user's preferences with the given map."""
        store.set_preferences(user_id, body.preferences)
        return profile_out(store.get(user_id))

    @router.put("/{user_id}/context", response_model=ProfileOut)
    def put_context(user_id: UserIdPath, body: ContextIn) -> ProfileOut:
        """Set the active context (e.g. vacation), optionally until a time."""
        store.set_context(user_id, body.name, body.until)
        return profile_out(store.get(user_id))

    @router.delete("/{user_id}/context", response_model=ProfileOut)
    def delete_context(user_id: UserIdPath) -> ProfileOut:
        store.clear_context(user_id)
        return profile_out(store.get(user_id))

    @router.put("/{user_id}/consents/{key}", response_model=ProfileOut)
    def put_consent(user_id: UserIdPath, key: ConsentKeyPath, body: ConsentIn) -> ProfileOut:
        """Grant or revoke a consent; revoking deletes the outputs and state of the agents
        that need it, and what was inferred for them."""
        scope = {"agents_requiring": agents_requiring, "inferred_under": inferred_under}
        store.set_consent(user_id, key, body.granted, **scope)
        return profile_out(store.get(user_id))

    return router
