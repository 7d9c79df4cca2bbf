"""The login policy and acr arithmetic: pure functions, no app."""

import pytest

from idp.authn import acr
from idp.authn.policy import AuthState, Demand, Prompt, Satisfied, evaluate

NOW = 1_000_000


def state(**factors):
    return AuthState(user_id=1, sid="s", factors={f: NOW - age for f, age in factors.items()})


@pytest.mark.parametrize(
    "factors, expected",
    [
        ({"pwd"}, "pwd"),
        ({"pwd", "otp"}, "mfa"),
        ({"pwd", "hwk"}, "phr"),
        ({"hwk", "user"}, "phr"),
        ({"otp"}, None),
        ({"hwk"}, None),
        (set(), None),
    ],
)
def test_level(factors, expected):
    assert acr.level(factors) == expected


@pytest.mark.parametrize(
    "factors, expected",
    [
        (["pwd"], ["pwd"]),
        (["pwd", "otp"], ["pwd", "otp", "mfa"]),
        (["pwd", "hwk"], ["pwd", "hwk", "mfa"]),
        (["hwk", "user"], ["hwk", "user", "mfa"]),
    ],
)
def test_amr(factors, expected):
    assert acr.amr(factors) == expected


@pytest.mark.parametrize(
    "acr_values, expected",
    [("mfa", "mfa"), ("phr mfa", "mfa"), ("urn:unknown pwd", "pwd"), ("urn:unknown", None), ("", None), (None, None)],
)
def test_minimum_requested(acr_values, expected):
    assert acr.minimum_requested(acr_values) == expected


def test_no_session():
    assert evaluate(None, Demand(), now=NOW) == Prompt("no_session", "pwd")


def test_password_session_satisfies_plain_request():
    outcome = evaluate(state(pwd=10), Demand(), now=NOW)
    assert outcome == Satisfied(acr="pwd", amr=["pwd"], auth_time=NOW - 10)


def test_max_age_exceeded():
    assert evaluate(state(pwd=10), Demand(max_age=5), now=NOW).reason == "max_age"
    assert isinstance(evaluate(state(pwd=10), Demand(max_age=10), now=NOW), Satisfied)


def test_factors_verified_in_the_flow_count_as_fresh():
    outcome = evaluate(state(pwd=3), Demand(max_age=0, verified_in_flow=frozenset({"pwd"})), now=NOW)
    assert isinstance(outcome, Satisfied)
    assert evaluate(state(pwd=3), Demand(max_age=0), now=NOW).reason == "max_age"


def test_max_age_zero_refuses_even_a_factor_of_this_second():
    assert evaluate(state(pwd=0), Demand(max_age=0), now=NOW).reason == "max_age"


def test_acr_unmet_keeps_the_factors_the_session_has():
    outcome = evaluate(state(pwd=10), Demand(acr="mfa"), now=NOW)
    assert outcome == Prompt("acr_unmet", "mfa", keep=("pwd",))
    assert outcome.error == "interaction_required"


def test_stronger_session_satisfies_weaker_request_and_reports_what_it_has():
    outcome = evaluate(state(pwd=100, otp=50), Demand(acr="pwd"), now=NOW)
    assert outcome == Satisfied(acr="mfa", amr=["pwd", "otp", "mfa"], auth_time=NOW - 100)


def test_stale_second_factor_drops_the_level():
    outcome = evaluate(state(pwd=10, otp=500), Demand(acr="mfa", max_age=60), now=NOW)
    assert outcome == Prompt("acr_unmet", "mfa", keep=("pwd",))


def test_id_token_hint_for_someone_else():
    assert evaluate(state(pwd=1), Demand(hint_user_id=2), now=NOW).reason == "id_token_hint"
    assert evaluate(state(pwd=1), Demand(hint_user_id=2), now=NOW).error == "login_required"


def test_auth_time_is_the_oldest_factor_behind_the_acr():
    outcome = evaluate(state(pwd=300, otp=20), Demand(), now=NOW)
    assert outcome.auth_time == NOW - 300


def test_after_first_factor_the_persons_floor_decides():
    from idp.authn.steps import Step, after_first_factor

    unmet = Step("unmet", "phr")
    # A person with TOTP gives it even when the request cannot be met anyway.
    assert after_first_factor(unmet, floor="mfa", enrolled={"otp"}) == Step("second_factor", "mfa", ("otp",))
    assert after_first_factor(Step("password", "pwd", reason="id_token_hint"), floor="mfa", enrolled={"otp", "hwk"}).methods == ("otp", "hwk")
    # The request's own second-factor step wins (it may need hwk only).
    wanted = Step("second_factor", "phr", ("hwk",))
    assert after_first_factor(wanted, floor="mfa", enrolled={"otp", "hwk"}) is wanted
    # Nothing to give: the password completes (or enrolment follows, which needs a session).
    assert after_first_factor(unmet, floor="pwd", enrolled=set()) is None
    assert after_first_factor(Step("enroll", "mfa", ("otp", "hwk")), floor="mfa", enrolled=set()) is None
    assert after_first_factor(Satisfied("pwd", ["pwd"], NOW), floor="pwd", enrolled=set()) is None


def test_verified_recently():
    from idp.authn.policy import SECOND_FACTORS, verified_recently

    assert verified_recently(state(pwd=10, otp=299), SECOND_FACTORS, now=NOW, max_age=300)
    assert not verified_recently(state(pwd=10, otp=301), SECOND_FACTORS, now=NOW, max_age=300)
    assert not verified_recently(state(pwd=10), SECOND_FACTORS, now=NOW, max_age=300)


# --- an upstream sign-in (RFC 8176 `fed`) as the first factor -------------------------------

@pytest.mark.parametrize(
    "factors, expected",
    [
        ({"fed"}, "pwd"),
        ({"fed", "otp"}, "mfa"),
        ({"fed", "hwk"}, "phr"),
        ({"fed", "fed_mfa"}, "mfa"),  # an upstream trusted for its own second factor
        ({"fed_mfa"}, None),
        ({"pwd", "fed"}, "pwd"),  # two first factors are still one factor
        ({"fed", "fed_mfa", "hwk"}, "phr"),
    ],
)
def test_level_with_an_upstream(factors, expected):
    assert acr.level(factors) == expected


@pytest.mark.parametrize(
    "factors, expected",
    [
        (["fed"], ["fed"]),
        (["fed", "otp"], ["fed", "otp", "mfa"]),
        (["fed", "hwk"], ["fed", "hwk", "mfa"]),
        (["fed", "fed_mfa"], ["fed", "mfa"]),
        (["pwd", "fed"], ["pwd", "fed"]),
    ],
)
def test_amr_with_an_upstream(factors, expected):
    assert acr.amr(factors) == expected


def test_an_upstream_session_is_reported_as_fed():
    assert evaluate(state(fed=10), Demand(), now=NOW) == Satisfied(acr="pwd", amr=["fed"], auth_time=NOW - 10)
    outcome = evaluate(state(fed=10, otp=5), Demand(acr="mfa"), now=NOW)
    assert outcome == Satisfied(acr="mfa", amr=["fed", "otp", "mfa"], auth_time=NOW - 10)
    trusted = evaluate(state(fed=10, fed_mfa=10), Demand(acr="mfa"), now=NOW)
    assert trusted == Satisfied(acr="mfa", amr=["fed", "mfa"], auth_time=NOW - 10)


def test_step_up_after_an_upstream_asks_only_the_second_factor():
    from idp.authn.steps import Step, next_step

    step = next_step(state(fed=10), Demand(acr="mfa"), enrolled={"otp"}, now=NOW)
    assert step == Step("second_factor", "mfa", ("otp",))
    # Trusted upstream MFA reaches mfa, not phr: a security key is still asked for phr.
    step = next_step(state(fed=10, fed_mfa=10), Demand(acr="phr"), enrolled={"otp", "hwk"}, now=NOW)
    assert step == Step("second_factor", "phr", ("hwk",))


def test_after_an_upstream_the_second_factor_is_asked_unless_its_mfa_is_trusted():
    from idp.authn.steps import Step, after_first_factor

    plain = Satisfied("pwd", ["fed"], NOW)
    assert after_first_factor(plain, floor="mfa", enrolled={"otp"}, first={"fed"}) == Step("second_factor", "mfa", ("otp",))
    assert after_first_factor(Satisfied("mfa", ["fed", "mfa"], NOW), floor="mfa", enrolled={"otp"},
                              first={"fed", "fed_mfa"}) is None
