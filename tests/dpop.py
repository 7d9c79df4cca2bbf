"""A DPoP client key for the tests (RFC 9449 §4): makes proofs as a browser would."""

from __future__ import annotations

import json
import secrets
import time

from joserfc import jws
from joserfc.jwk import ECKey

from idp_resource.dpop import access_token_hash


class DpopKey:
    def __init__(self) -> None:
        self.key = ECKey.generate_key("P-256")
        self.jkt = self.key.thumbprint()

    def proof(self, method: str, uri: str, *, access_token: str | None = None, iat: int | None = None,
              jti: str | None = None, **extra) -> str:
        claims = {"jti": jti or secrets.token_urlsafe(12), "htm": method, "htu": uri,
                  "iat": int(time.time()) if iat is None else iat, **extra}
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        header = {"alg": "ES256", "typ": "dpop+jwt", "jwk": self.key.as_dict(private=False)}
        return jws.serialize_compact(header, json.dumps(claims), self.key, algorithms=["ES256"])
