"""The legacy verifier: an HTTPS endpoint of the old system (or an adapter in front of it,
such as one that calls Cognito's InitiateAuth; docs/move-your-users-here.md) that says
whether an email and password are right. It is asked at most until the person's first
successful sign-in here, which stores our own hash of the password.

The request is `POST {url}` with `{"email": …, "password": …}` as JSON and, when one is
configured, `Authorization: Bearer {token}`. The answer must be 200 with
`{"valid": true}` or `{"valid": false}`. Anything else (a timeout, another status, a
redirect, another body) fails closed: the sign-in is refused with 503 and nothing counts.
The password goes to that URL only (redirects are never followed) and is never logged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..net import Http, NetError


class VerifierUnavailable(RuntimeError):
    """The legacy verifier gave no usable answer; the message never holds the password."""


@dataclass(frozen=True)
class LegacyVerifier:
    url: str
    token: str | None
    http: Http

    def check(self, email: str, password: str) -> bool:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = json.dumps({"email": email, "password": password}).encode()
        try:
            answer = self.http.request("POST", self.url, body=body, headers=headers)
            data = answer.json() if answer.status == 200 else None
        except NetError as exc:
            raise VerifierUnavailable(f"legacy verifier: {exc}") from None
        valid = data.get("valid") if isinstance(data, dict) else None
        if answer.status != 200 or not isinstance(valid, bool):
            raise VerifierUnavailable(f"legacy verifier answered {answer.status} without a valid true/false")
        return valid
