"""`WWW-Authenticate` challenges (RFC 6750 §3, RFC 9470 §3)."""

from __future__ import annotations

from collections.abc import Iterable

def _is_param_text(value: str) -> bool:
    # RFC 6750 §3: error, error_description and scope use %x20-21 / %x23-5B / %x5D-7E only,
    # so they never need quoted-pair escapes (no '"', no '\').
    return all(c in (" ", "!") or "#" <= c <= "[" or "]" <= c <= "~" for c in value)


def _clean_description(text: str) -> str:
    cleaned = "".join(c if _is_param_text(c) else " " for c in text)
    return " ".join(cleaned.split())  # no control characters, no runs of spaces


def www_authenticate(
    error: str | None = None,
    description: str | None = None,
    *,
    acr_values: str | Iterable[str] | None = None,
    max_age: int | None = None,
    scope: str | Iterable[str] | None = None,
    realm: str | None = None,
    scheme: str = "Bearer",
    algs: str | None = None,
) -> str:
    """A `WWW-Authenticate` value for the Bearer scheme (or `scheme="DPoP"`, RFC 9449 §7.1,
    with its `algs` parameter).

    No `error` gives the bare `Bearer` challenge (RFC 6750 §3.1: a request without any
    token gets no error code). `acr_values` and `max_age` are RFC 9470 §3's parameters for
    `insufficient_user_authentication`; `scope` is RFC 6750 §3's for `insufficient_scope`.
    """
    params: list[tuple[str, str]] = []
    if realm is not None:
        params.append(("realm", realm))
    if error is not None:
        params.append(("error", error))
    if description:
        params.append(("error_description", _clean_description(description)))
    if scope is not None:
        params.append(("scope", scope if isinstance(scope, str) else " ".join(scope)))
    if acr_values is not None:
        params.append(("acr_values", acr_values if isinstance(acr_values, str) else " ".join(acr_values)))
    if max_age is not None:
        if not isinstance(max_age, int) or isinstance(max_age, bool) or max_age < 0:
            raise ValueError("max_age must be a non-negative integer")
        params.append(("max_age", str(max_age)))
    for name, value in params:
        if not _is_param_text(value):
            raise ValueError(f"{name} contains characters a challenge cannot carry: {value!r}")
    if algs is not None:
        params.append(("algs", algs))
    if not params:
        return scheme
    return scheme + " " + ", ".join(f'{name}="{value}"' for name, value in params)
