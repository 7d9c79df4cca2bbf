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
    reason: str = ""  # for password: why (no_session, max_age, id_token_hint)


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
    if prompt.reason != "acr_unmet" or not (keep & set(acrs.FIRST_FACTORS) or {"hwk", "user"} <= keep):
        return Step("password", target, reason=prompt.reason)
    methods = tuple(m for m in ("otp", "hwk") if m in enrolled and _reaches(keep | {m}, target))
    if methods:
        return Step("second_factor", target, methods)
    if not enrolled:
        # Nothing enrolled yet: enrol now, before any token is issued.
        return Step("enroll", target, ("otp", "hwk") if target == "mfa" else ("hwk",))
    # OpenID Connect Unmet Authentication Requirements 1.0: the person has no factor that
    # can reach the level asked for.
    return Step("unmet", target)


def after_first_factor(
    request_step: Satisfied | Step, *, floor: str, enrolled: set[str], first: set[str] = frozenset({"pwd"})
) -> Step | None:
    """Right after a correct first factor (`first`: the password, or an upstream sign-in
    with what it brought): the second factor to ask for now, or None when the first step
    alone completes the sign-in.

    The person's own floor decides, whatever the request wants: a person with a second
    factor gives it at every sign-in, even when the request cannot be met anyway (it then
    fails after the sign-in, not instead of it). Otherwise the password alone would make
    a session, and reset the lockout, for someone whose every sign-in needs two factors.
    An upstream whose multi-factor sign-in the operator trusts has met the floor already.
    """
    if isinstance(request_step, Step) and request_step.kind == "second_factor":
        return request_step
    if floor == "pwd" or not enrolled or acrs.satisfies(acrs.level(first), floor):
        return None  # no second factor to give (or one to enrol, which needs a session)
    methods = tuple(m for m in ("otp", "hwk") if m in enrolled)
    return Step("second_factor", floor, methods)
