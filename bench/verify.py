"""A resource server's cost: how many of our access tokens one thread verifies per second
with `idp.resource`, with PyJWT, and with npm's `jose` (bench/peer/verify.mjs), on the same
tokens and the same checks (signature, typ at+jwt, iss, aud, exp)."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Callable

import jwt as pyjwt

from idp_resource import AccessTokenVerifier, JwksCache

from .servers import PEER


def _loop(verify: Callable[[str], object], tokens: list[str], seconds: float) -> float:
    count, started = 0, time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for token in tokens:
            verify(token)
            count += 1
    return count / (time.perf_counter() - started)


def measure(base: str, tokens: list[str], issuer: str, audience: str, seconds: float) -> list[tuple[str, float]]:
    with urllib.request.urlopen(base + "/jwks.json", timeout=10) as response:
        jwks = json.loads(response.read())

    ours = AccessTokenVerifier(issuer, audience, JwksCache(base + "/jwks.json"))
    results = [("idp.resource (joserfc)", _loop(ours.verify, tokens, seconds))]

    keys = pyjwt.PyJWKSet.from_dict(jwks)
    by_kid = {k.key_id: k for k in keys.keys}

    def with_pyjwt(token: str) -> dict:
        header = pyjwt.get_unverified_header(token)
        if str(header.get("typ", "")).lower() not in ("at+jwt", "application/at+jwt"):
            raise ValueError("not an access token")
        return pyjwt.decode(token, by_kid[header["kid"]].key, algorithms=["RS256", "ES256", "EdDSA"],
                            audience=audience, issuer=issuer)

    results.append((f"PyJWT {pyjwt.__version__}", _loop(with_pyjwt, tokens, seconds)))

    job = json.dumps({"tokens": tokens, "jwks": jwks, "issuer": issuer, "audience": audience, "seconds": seconds})
    done = subprocess.run(["node", "verify.mjs"], input=job, cwd=PEER, capture_output=True, text=True,
                          timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"verify.mjs failed: {done.stderr[-1000:]}")
    results.append(("jose (npm, node)", json.loads(done.stdout.strip().splitlines()[-1])["per_second"]))
    return results
