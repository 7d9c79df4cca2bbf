"""Which counters an attempt is charged to, from what the browser proves."""

from idp.authn.browser import Browser
from idp.lockout.regulator import Attempt


def test_a_trusted_browser_gets_its_own_counter_for_that_account_only():
    browser = Browser(ip="192.0.2.1", device="dev1", trusted_accounts=frozenset({"acct-a"}))
    assert browser.attempt("acct-a") == Attempt(account="acct-a", ip="192.0.2.1", device="dev1")
    assert browser.attempt("acct-b") == Attempt(account="acct-b", ip="192.0.2.1", device=None)


def test_no_device_cookie_means_the_shared_account_counter():
    assert Browser(ip="192.0.2.1").attempt("acct-a") == Attempt(account="acct-a", ip="192.0.2.1", device=None)
    assert Browser(ip="192.0.2.1").attempt(None) == Attempt(account=None, ip="192.0.2.1", device=None)
