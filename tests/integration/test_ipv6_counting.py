"""Issue 9 item 6: one client owns a whole IPv6 /64, so addresses are counted per prefix;
an IPv4-mapped address is the IPv4 address; the same holds behind trusted proxies."""

from __future__ import annotations

import pytest

from idp.lockout.addresses import counted_address
from tests.helpers import PASSWORD, csrf_token, make_user

THRESHOLD = 6


def post_login(http, email, password, **environ):
    html = http.get("/login", environ_overrides=environ).get_data(as_text=True)
    return http.post("/login", data={"csrf_token": csrf_token(html), "email": email, "password": password},
                     environ_overrides=environ)


def spray(app, addresses, header=None):
    """One wrong password per account, each from the next address."""
    statuses = []
    for i, address in enumerate(addresses):
        make_user(app, f"u{i}@example.com")
        http = app.test_client()
        environ = {"HTTP_X_FORWARDED_FOR": address} if header else {"REMOTE_ADDR": address}
        statuses.append(post_login(http, f"u{i}@example.com", "Winter2026!", **environ).status_code)
    return statuses


@pytest.mark.parametrize("settings", [{"IDP_LOCKOUT_IP_THRESHOLD": THRESHOLD}])
def test_one_slash_64_is_one_address(app, settings):
    addresses = [f"2001:db8:1:2:{i:x}::{i + 1:x}" for i in range(THRESHOLD + 3)]
    assert spray(app, addresses) == [401] * THRESHOLD + [429] * 3
    # The next /64 is someone else.
    http = app.test_client()
    make_user(app, "w@example.com")
    assert post_login(http, "w@example.com", PASSWORD, REMOTE_ADDR="2001:db8:1:3::1").status_code == 303


@pytest.mark.parametrize("settings", [{"IDP_LOCKOUT_IP_THRESHOLD": THRESHOLD, "IDP_TRUSTED_PROXIES": 1}])
def test_behind_a_trusted_proxy_too(app, settings):
    addresses = [f"2001:db8:7:7:{i:x}:{i:x}:{i:x}:{i:x}" for i in range(THRESHOLD + 2)]
    assert spray(app, addresses, header=True) == [401] * THRESHOLD + [429] * 2


@pytest.mark.parametrize("settings", [{"IDP_LOCKOUT_IP_THRESHOLD": THRESHOLD}])
def test_an_ipv4_mapped_address_is_the_ipv4_address(app, settings):
    addresses = ["198.51.100.7", "::ffff:198.51.100.7", "::ffff:c633:6407"] * 3
    assert spray(app, addresses[:THRESHOLD + 2]) == [401] * THRESHOLD + [429] * 2


@pytest.mark.parametrize("address, prefix, counted", [
    ("2001:db8::1", 64, "2001:db8::/64"),
    ("2001:DB8:0:0:ffff:1:2:3", 64, "2001:db8::/64"),
    ("2001:db8:aaaa:bbbb:cccc::1", 48, "2001:db8:aaaa::/48"),
    ("2001:db8::1", 128, "2001:db8::1/128"),
    ("::ffff:192.0.2.1", 64, "192.0.2.1"),
    ("192.0.2.1", 64, "192.0.2.1"),
    ("fe80::1%eth0", 64, "fe80::/64"),
    ("unknown", 64, "unknown"),
])
def test_counted_address(address, prefix, counted):
    assert counted_address(address, v6_prefix=prefix) == counted
