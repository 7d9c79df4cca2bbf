"""The endpoints the benchmark measures, each as the same wrk job for either server.

A cell is one endpoint at one concurrency; `prepare` makes what one measurement needs
right before it (fresh refresh-token chains, an unexpired access token) and returns the
wrk job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from . import fixtures
from .load import Job


@dataclass
class Context:
    """One side during the run: its fixtures, its signed-in browser, a scratch folder."""

    side: fixtures.Side
    browser: fixtures.Browser
    workdir: Path
    #: The base URL for the ES256 client_credentials cell (ours: a second server instance).
    es256_base: str = ""

    def fresh_access_token(self) -> str:
        """A user's access token from a signed-in code flow (tokens live 5 minutes)."""
        s = self.side
        start = fixtures.authorize_url(s.base, s.spa_id, fixtures.SPA_REDIRECT, s.challenge)
        code = fixtures.code_flow(self.browser, start, fixtures.SPA_REDIRECT)
        return fixtures.exchange(self.browser, s.base, code, s.spa_id, fixtures.SPA_REDIRECT, s.verifier)["access_token"]


@dataclass(frozen=True)
class Endpoint:
    key: str
    title: str
    unit: str  # "req/s" or "flows/s"
    prepare: Callable[[Context, int], Job]
    #: Our side needs the ES256 server for this one.
    es256: bool = False


def _get(path: str) -> Callable[[Context, int], Job]:
    return lambda ctx, c: Job("static.lua", ctx.side.base, ("method=GET", f"path={path}"))


def _client_credentials(resource: str, es256: bool) -> Callable[[Context, int], Job]:
    def prepare(ctx: Context, c: int) -> Job:
        s = ctx.side
        body = {"grant_type": "client_credentials"}
        if s.name == "peer":
            body.update(resource=resource, scope="api")
        base = ctx.es256_base if es256 and ctx.es256_base else s.base
        return Job("static.lua", base, ("method=POST", "path=/token", f"body={urlencode(body)}",
                                         f"header=Authorization: {s.auth}"))
    return prepare


def _refresh(ctx: Context, connections: int) -> Job:
    s = ctx.side
    tokens = s.refresh_chains(connections, ctx.browser)
    path = ctx.workdir / f"{s.name}-refresh-{connections}.txt"
    path.write_text("\n".join(tokens) + "\n")
    args = ["path=/token", f"tokens={path}", f"client_id={s.spa_id}"]
    if s.resource:
        args.append(f"resource={s.resource}")
    return Job("refresh.lua", s.base, tuple(args))


def _introspection(ctx: Context, c: int) -> Job:
    s = ctx.side
    body = urlencode({"token": ctx.fresh_access_token()})
    return Job("static.lua", s.base, ("method=POST", "path=/introspect", f"body={body}",
                                       f"header=Authorization: {s.auth}"))


def _userinfo(ctx: Context, c: int) -> Job:
    return Job("static.lua", ctx.side.base, ("method=GET", "path=/userinfo",
                                              f"header=Authorization: Bearer {ctx.fresh_access_token()}"))


def _flow_args(s: fixtures.Side) -> list[str]:
    start = fixtures.authorize_url("", s.spa_id, fixtures.SPA_REDIRECT, s.challenge, s.resource)
    args = [f"authorize={start}", f"redirect_uri={fixtures.SPA_REDIRECT}", "token_path=/token",
            f"client_id={s.spa_id}", f"verifier={s.verifier}"]
    if s.interaction_cookies:
        args.append("interaction_cookies=1")
    return args


def _signed_in_flow(ctx: Context, c: int) -> Job:
    s = ctx.side
    return Job("flow.lua", s.base, (*_flow_args(s), f"cookie={s.session_cookie}"), one_connection_per_thread=True)


def _password_flow(ctx: Context, c: int) -> Job:
    s = ctx.side
    path = ctx.workdir / f"{s.name}-people.txt"
    path.write_text("".join(f"{e}\t{fixtures.PASSWORD}\t{s.return_cookies.get(e, '')}\n" for e in s.emails))
    return Job("flow.lua", s.base, (*_flow_args(s), f"people={path}", "xff=1"), one_connection_per_thread=True)


ENDPOINTS: list[Endpoint] = [
    Endpoint("discovery", "discovery", "req/s", _get("/.well-known/openid-configuration")),
    Endpoint("jwks", "JWKS", "req/s", _get("/jwks.json")),
    Endpoint("cc_rs256", "client_credentials RS256", "req/s", _client_credentials(fixtures.RS256_RESOURCE, False)),
    Endpoint("cc_es256", "client_credentials ES256", "req/s", _client_credentials(fixtures.ES256_RESOURCE, True), es256=True),
    Endpoint("refresh", "refresh_token (rotation)", "req/s", _refresh),
    Endpoint("introspection", "introspection", "req/s", _introspection),
    Endpoint("userinfo", "userinfo", "req/s", _userinfo),
    Endpoint("flow_signed_in", "code flow, signed in", "flows/s", _signed_in_flow),
    Endpoint("flow_password", "code flow, password sign-in", "flows/s", _password_flow),
]

#: The token-endpoint cells measured again on the large database (--scale).
SCALE_ENDPOINTS = ("cc_rs256", "refresh", "introspection")


def by_key(keys: list[str] | tuple[str, ...]) -> list[Endpoint]:
    known = {e.key: e for e in ENDPOINTS}
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise SystemExit(f"unknown endpoint(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    return [known[k] for k in keys]
