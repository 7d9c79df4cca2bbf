"""What follows a correct first factor (a password, or an upstream sign-in), the same for both:
the second factor the person owes, or a complete sign-in."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import accounts, clock, mfa
from ..extensions import db
from ..lockout.regulator import Regulator, Reservation, account_key
from ..models import User
from . import acr as acrs, outcomes
from .steps import after_first_factor, user_floor

if TYPE_CHECKING:
    from .policy import Satisfied
    from .steps import Step

#: What the authorization request still needs once `user` has given these first factors
#: ({"pwd": at}), given the factors they have enrolled (the flow answers it; see web.flow).
RequestNeeds = Callable[[User, dict[str, int], set[str]], "Satisfied | Step"]


def settle(
    user: User, first: dict[str, int], *, reservation: Reservation, regulator: Regulator, request_needs: RequestNeeds,
    enrolment_token: str | None = None, enrolled: set[str] | None = None,
) -> outcomes.SecondFactorDue | outcomes.SignedIn | outcomes.EnrolmentLinkMailed:
    """`enrolment_token`: the mailed enrolment link this browser opened, if any. `enrolled`:
    the person's kinds of second factor (mfa.kinds), if the caller read them with the person."""
    if enrolled is None:
        enrolled = mfa.enrolled(user.id)
    if accounts.needs_enrolment_link(user, enrolled) and not acrs.satisfies(acrs.level(set(first)), "mfa"):
        # The password alone never reaches enrolment: with the mailed link, or not at all.
        if not (enrolment_token and accounts.take_enrolment_link(enrolment_token, user)):
            accounts.mail_enrolment_link(user)
            db.session.commit()
            regulator.succeeded(reservation, complete=False)
            return outcomes.EnrolmentLinkMailed(user)
    floor = user_floor(mfa_required=user.mfa_required, enrolled=enrolled)
    second = after_first_factor(request_needs(user, first, enrolled), floor=floor, enrolled=enrolled, first=set(first))
    if second is not None:
        # The first factor waits in a pending record; the session gets nothing yet, and the
        # account's failures stay: knowing the password does not reset the code budget.
        db.session.commit()
        regulator.succeeded(reservation, complete=False)
        return outcomes.SecondFactorDue(user, second, first)
    user.last_login_at = clock.now()
    db.session.commit()
    regulator.succeeded(reservation, complete=True, account=account_key(user.email))
    return outcomes.SignedIn(user, first)
