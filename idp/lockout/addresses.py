"""Which client address an attempt is counted under.

One IPv6 client usually owns a whole /64 (RFC 6177, RFC 7421: SLAAC needs it), and picks a
new address in it at will (RFC 8981 temporary addresses): counting each address alone would
give it 2^64 fresh counters. So IPv6 addresses are counted per prefix, and an IPv4-mapped
address (::ffff:a.b.c.d, what a dual-stack socket reports) is the IPv4 address.
"""

from __future__ import annotations

import ipaddress


def counted_address(address: str, *, v6_prefix: int = 64) -> str:
    """The counter name of `address`: itself for IPv4, its /v6_prefix network for IPv6.
    Anything that is not an address (a test client's "unknown") is counted as it is."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # a zone id (fe80::1%eth0) is local
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, v6_prefix), strict=False))
    return str(ip)
