"""Flask integration: `ResourceServer.require_token` protects a view. Flask is imported
only when a decorated view runs, so the rest of the package works without it."""

from __future__ import annotations

import http.client
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar

from .access_token import AccessTokenVerifier
from .challenges import www_authenticate
from .errors import InvalidToken, KeySetUnavailable
from .dpop import InvalidProof, ProofChecker
from .jwks import ACCEPTED_ALGS, Fetch, JwksCache, fetch_json
from .requirements import _check_requirements, check_authentication

F = TypeVar("F", bound=Callable[..., Any])


def _scopes(scope: str | Iterable[str] | None) -> tuple[str, ...]:
    if scope is None:
        return ()
    return tuple(scope.split()) if isinstance(scope, str) else tuple(scope)


class _BadRequest(Exception):
    pass


def _access_token(authorization: str | None) -> tuple[str, str | None]:
    """The scheme (`Bearer`, RFC 6750 §2.1, or `DPoP`, RFC 9449 §7.1) and token of the
    Authorization header; no token without one. Scheme names are case-insensitive (RFC
    9110 §11.1)."""
    if not authorization:
        return "Bearer", None
    scheme, _, rest = authorization.strip().partition(" ")
    if scheme.lower() not in ("bearer", "dpop"):
        return "Bearer", None  # another scheme: for us, no credentials at all
    parts = rest.split()
    if len(parts) != 1:
        raise _BadRequest("the Authorization header must carry exactly one access token")
    return ("DPoP" if scheme.lower() == "dpop" else "Bearer"), parts[0]


class ResourceServer:
    """Flask integration: `require_token` protects a view with this provider's tokens.

    `audience` defaults to the issuer, as the provider's IDP_ACCESS_TOKEN_AUDIENCE does.
    The JWKS is `jwks_uri`, else (with `discover=True`) the `jwks_uri` of the provider's
    discovery document (OIDC Discovery §4), else `issuer + "/jwks.json"`. Pass `jwks` to
    bring a JwksCache of your own; `fetch` replaces HTTP for both look-ups.
    """

    def __init__(
        self,
        issuer: str,
        audience: str | None = None,
        jwks_uri: str | None = None,
        *,
        discover: bool = False,
        jwks: JwksCache | None = None,
        leeway: float = 0,
        ttl: float = 60,
        min_refetch_interval: float = 10,
        timeout: float = 5.0,
        fetch: Fetch | None = None,
        realm: str | None = None,
    ):
        self.issuer = issuer  # iss is compared exactly (RFC 9068 §4): no normalising
        self.audience = audience or issuer
        self.realm = realm
        self._fetch = fetch or (lambda url: fetch_json(url, timeout))
        self._jwks_uri_found: str | None = None
        if jwks is None:
            uri: str | Callable[[], str]
            if jwks_uri:
                uri = jwks_uri
            elif discover:
                uri = self._discovered_jwks_uri
            else:
                uri = issuer.rstrip("/") + "/jwks.json"
            jwks = JwksCache(uri, ttl=ttl, min_refetch_interval=min_refetch_interval, fetch=self._fetch)
        self.jwks = jwks
        self.verifier = AccessTokenVerifier(self.issuer, self.audience, jwks, leeway=leeway)
        #: DPoP-bound tokens (cnf.jkt) need a proof of their key; proofs are used once.
        self.proofs = ProofChecker()

    def _discovered_jwks_uri(self) -> str:
        if self._jwks_uri_found is None:
            url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
            try:
                doc = self._fetch(url)
            except (OSError, ValueError, http.client.HTTPException) as exc:
                raise ValueError(f"discovery at {url} failed: {exc}") from exc
            # OIDC Discovery §4.3: the document must name exactly the issuer we trust.
            if doc.get("issuer") != self.issuer or not isinstance(doc.get("jwks_uri"), str):
                raise ValueError(f"{url} is not this issuer's discovery document")
            self._jwks_uri_found = doc["jwks_uri"]
        return self._jwks_uri_found

    def require_token(
        self,
        scope: str | Iterable[str] | None = None,
        acr: str | None = None,
        max_age: int | None = None,
    ) -> Callable[[F], F]:
        """Decorate a view: it runs only with a valid access token meeting `scope` (all of
        them), `acr` and `max_age`; the claims are in `flask.g.token_claims`.

        Answers otherwise: no token, 401 with a bare `Bearer` challenge (RFC 6750 §3.1);
        a malformed header, 400 `invalid_request`; a bad token, 401 `invalid_token`; too
        weak or too old an authentication, 401 `insufficient_user_authentication` with the
        route's `acr_values` and `max_age` (RFC 9470 §3); missing scope, 403
        `insufficient_scope` (RFC 6750 §3.1); JWKS unreachable, 503.
        """
        _check_requirements(acr, max_age)
        required = _scopes(scope)

        def decorate(view: F) -> F:
            @wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                from flask import g, request

                try:
                    scheme, token = _access_token(request.headers.get("Authorization"))
                except _BadRequest as exc:
                    return self._error(400, "invalid_request", str(exc))
                if token is None:
                    return self._error(401, None, "An access token is required")
                try:
                    claims = self.verifier.verify(token)
                    self.proofs.check(scheme, token, claims, method=request.method, uri=request.base_url,
                                      headers=request.headers.getlist("DPoP"), now=self.verifier.now())
                except InvalidProof as exc:
                    return self._error(401, "invalid_dpop_proof", exc.description, scheme="DPoP")
                except InvalidToken as exc:
                    return self._error(401, "invalid_token", exc.description,
                                       scheme="DPoP" if getattr(exc, "dpop", False) else scheme)
                except KeySetUnavailable:
                    response = self._error(503, "temporarily_unavailable", "Cannot verify tokens right now")
                    response.headers["Retry-After"] = "10"
                    return response
                # Authentication before authorization: a step-up may also be what the user
                # needs for the scope, and 401 before 403 is HTTP's order.
                shortfall = check_authentication(claims, acr=acr, max_age=max_age, now=self.verifier.now())
                if shortfall is not None:
                    # The challenge names every requirement of the route, not only the one
                    # that failed: the client's next authorization request must meet them all
                    # (a fresh sign-in at pwd would otherwise fail on acr next time).
                    return self._error(
                        401, "insufficient_user_authentication", shortfall.description,
                        acr_values=acr, max_age=max_age, scheme=scheme,
                    )
                granted = claims.get("scope")
                granted_set = set(granted.split()) if isinstance(granted, str) else set()
                if not set(required) <= granted_set:
                    return self._error(
                        403, "insufficient_scope", "The token lacks a scope this resource needs",
                        scope=" ".join(required), scheme=scheme,
                    )
                g.token_claims = claims
                return view(*args, **kwargs)

            return wrapper  # type: ignore[return-value]

        return decorate

    def _error(self, status: int, error: str | None, description: str, scheme: str = "Bearer", **params: Any) -> Any:
        from flask import jsonify

        body: dict[str, Any] = {"error": error, "error_description": description} if error else {
            "error_description": description  # RFC 6750 §3.1: no error code without a token
        }
        response = jsonify(body)
        response.status_code = status
        if status in (401, 403) or error == "invalid_request":
            response.headers["WWW-Authenticate"] = www_authenticate(
                error, description if error else None, realm=self.realm, scheme=scheme,
                algs=" ".join(ACCEPTED_ALGS) if scheme == "DPoP" else None, **params
            )
        response.headers["Cache-Control"] = "no-store"
        return response
