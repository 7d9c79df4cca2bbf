"""When must the person authenticate (again), and for what?

A plain function of the session's verified factors and what the request demands (OIDC Core
3.1.2.1 `prompt`, `max_age`, `acr_values`, `id_token_hint`; RFC 9470). The first check that
fires names the reason; under `prompt=none` the reason picks the error code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import acr as acrs


@dataclass(frozen=True)
class AuthState:
    """What the session knows: who, its OIDC `sid`, and when each factor was verified."""

    user_id: int
    sid: str
    factors: dict[str, int] = field(default_factory=dict)
    epoch: int = 0  # the person's session epoch when the session began

    def to_dict(self) -> dict:
        return {"uid": self.user_id, "sid": self.sid, "factors": dict(self.factors), "epoch": self.epoch}

    @classmethod
    def from_dict(cls, data: dict | None) -> AuthState | None:
        if not data:
            return None
        return cls(user_id=int(data["uid"]), sid=str(data["sid"]), factors=dict(data["factors"]),
                   epoch=int(data.get("epoch", 0)))

    def with_factor(self, factor: str, at: int) -> AuthState:
        return AuthState(self.user_id, self.sid, {**self.factors, factor: at}, self.epoch)


SECOND_FACTORS = ("otp", "hwk")


def verified_recently(state: AuthState, factors: tuple[str, ...], *, now: int, max_age: int) -> bool:
    """Step-up inside the provider: one of `factors` verified within `max_age` seconds."""
    return any(f in state.factors and now - state.factors[f] <= max_age for f in factors)


@dataclass(frozen=True)
class Demand:
    """What one authorization request asks of the authentication."""

    acr: str | None = None  # the minimum level, already combined from every source
    max_age: int | None = None  # prompt=login is max_age=0
    #: Factors verified for this very request (inside its flow) are fresh whatever max_age
    #: says; with max_age=0 (prompt=login) nothing else is.
    verified_in_flow: frozenset[str] = frozenset()
    hint_user_id: int | None = None  # the subject of id_token_hint, if one was given


@dataclass(frozen=True)
class Satisfied:
    acr: str
    amr: list[str]
    auth_time: int


@dataclass(frozen=True)
class Prompt:
    reason: str  # no_session | id_token_hint | max_age | acr_unmet
    target: str  # the level the person must reach
    #: Factors the session already has and may keep: only what is missing is asked for.
    keep: tuple[str, ...] = ()

    @property
    def error(self) -> str:
        """The OIDC error for prompt=none (OIDC Core 3.1.2.6)."""
        return "interaction_required" if self.reason == "acr_unmet" else "login_required"


def evaluate(state: AuthState | None, demand: Demand, *, now: int) -> Satisfied | Prompt:
    target = demand.acr or "pwd"
    if state is None or not state.factors:
        return Prompt("no_session", target)
    if demand.hint_user_id is not None and demand.hint_user_id != state.user_id:
        return Prompt("id_token_hint", target)

    def fresh(factor: str, at: int) -> bool:
        if factor in demand.verified_in_flow:
            return True
        if demand.max_age is None:
            return True
        # Times are whole seconds: with max_age=0 a factor of "this second" may still be
        # older than the request, so only the flow's own factors count (OIDC Core 3.1.2.1).
        return demand.max_age > 0 and now - at <= demand.max_age

    usable = {f: t for f, t in state.factors.items() if fresh(f, t)}
    achieved = acrs.level(usable)
    if achieved is None:
        return Prompt("max_age", target)
    if not acrs.satisfies(achieved, target):
        return Prompt("acr_unmet", target, keep=tuple(sorted(usable)))
    backing = acrs.factors_for(achieved, usable)
    return Satisfied(
        acr=achieved,
        amr=acrs.amr(backing),
        auth_time=min(usable[f] for f in backing),
    )
