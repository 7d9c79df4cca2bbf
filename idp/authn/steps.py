"""What the person must do next, given the session, the request and their factors.

`policy.evaluate` says whether the session is good enough; this module turns a "no" into
the one step that is missing, so the person is asked only for that (INTERFACE.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import acr as acrs
from .policy import AuthState, Demand, Prompt, Satisfied, evaluate


@dataclass(frozen=True)
class Step:
    kind: str  # password | second_factor | enroll | unmet
    target: str
    #: For second_factor and enroll: the kinds of factor (amr values) that would do.
    methods: tuple[str, ...] = ()


def user_floor(*, mfa_required: bool, enrolled: set[str]) -> str:
    """A person who has a second factor is asked for it at every sign-in; so is one whose
    account policy requires one (they enrol first)."""
    return "mfa" if mfa_required or enrolled else "pwd"


def _reaches(factors: set[str], target: str) -> bool:
    return acrs.satisfies(acrs.level(factors), target)


def next_step(state: AuthState | None, demand: Demand, *, enrolled: set[str], now: int) -> Satisfied | Step:
    outcome = evaluate(state, demand, now=now)
    if isinstance(outcome, Satisfied):
        return outcome
    return step_for(outcome, enrolled=enrolled)


def step_for(prompt: Prompt, *, enrolled: set[str]) -> Step:
    target = prompt.target
    keep = set(prompt.keep)
    if prompt.reason != "acr_unmet" or not ("pwd" in keep or {"hwk", "user"} <= keep):
        return Step("password", target)
    methods = tuple(m for m in ("otp", "hwk") if m in enrolled and _reaches(keep | {m}, target))
    if methods:
        return Step("second_factor", target, methods)
    if not enrolled:
        # Nothing enrolled yet: enrol now, before any token is issued.
        return Step("enroll", target, ("otp", "hwk") if target == "mfa" else ("hwk",))
    # OpenID Connect Unmet Authentication Requirements 1.0: the person has no factor that
    # can reach the level asked for.
    return Step("unmet", target)
