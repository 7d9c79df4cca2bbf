"""The two ways a token check fails: the token's fault, or the key set's absence."""

from __future__ import annotations


class InvalidToken(Exception):
    """The token is not one this resource server accepts (RFC 6750 §3.1 `invalid_token`)."""

    def __init__(self, description: str):
        super().__init__(description)
        self.description = description


class KeySetUnavailable(Exception):
    """The JWKS could not be fetched and no copy is cached: nothing can be verified now.
    Not the token's fault, so not `invalid_token` (a client would throw a good token away)."""
