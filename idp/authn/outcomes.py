"""What a sign-in step can come to. Each use-case in this package returns one of these and
the view renders it: the rules live here, the pages in idp/web."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from ..models import User
    from .steps import Step


@dataclass(frozen=True)
class Locked:
    """Too many failures on a counter this attempt is charged to: nothing was evaluated."""

    retry_after: int
    #: The account's cap on second-factor failures is reached (not a wait that ends soon).
    second_factor_cap: bool = False


@dataclass(frozen=True)
class Refused:
    """The credential was wrong (or names nobody): counted, and told without detail."""

    reason: str = "invalid"


@dataclass(frozen=True)
class SecondFactorDue:
    """The first factor was right, and the sign-in waits for `step` in a pending record."""

    user: User
    step: Step
    #: What the first step verified, and when: {"pwd": t}, or {"fed": t} after an upstream.
    first: dict[str, int]


@dataclass(frozen=True)
class SignedIn:
    """A complete sign-in (or step-up): these factors go into the session."""

    user: User
    factors: dict[str, int]
    #: For a pending sign-in: what it was for (login, step_up, reset) and where it returns.
    purpose: str = "login"
    next: str | None = None
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class EnrolmentLinkMailed:
    """The first factor was right, but the account must enrol a second factor and this
    browser holds no live enrolment link: none is enrolled, no session is made, and the
    owner is mailed a link (issue 9, item 5)."""

    user: User


@dataclass(frozen=True)
class StartOver:
    """This sign-in attempt used its second-factor tries: back to the password."""


@dataclass(frozen=True)
class Expired:
    """The pending sign-in was already used or timed out."""


Outcome = Union[Locked, Refused, SecondFactorDue, SignedIn, EnrolmentLinkMailed, StartOver, Expired]
