"""WebAuthn ceremonies with py_webauthn: the relying-party checks of WebAuthn Level 2 §7.1
(registration) and §7.2 (authentication) are py_webauthn's; what is ours is which
challenge, origin, RP ID and user-verification rule apply, and the sign-count policy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from ..models import WebAuthnCredential

TIMEOUT_MS = 120_000


class CeremonyFailed(Exception):
    """The response did not verify. `cloned` marks a sign count that went backwards."""

    def __init__(self, reason: str, *, cloned: bool = False):
        super().__init__(reason)
        self.cloned = cloned


@dataclass(frozen=True)
class RelyingParty:
    id: str  # the issuer's host (WebAuthn needs a domain, hence localhost, not 127.0.0.1)
    origin: str
    name: str

    @classmethod
    def for_issuer(cls, issuer: str, name: str) -> "RelyingParty":
        parts = urlsplit(issuer)
        return cls(id=parts.hostname or "", origin=f"{parts.scheme}://{parts.netloc}", name=name)


def user_handle(subject: str) -> str:
    """The user handle registered for a person (their random `sub`), as base64url."""
    return bytes_to_base64url(subject.encode())


def _descriptors(credentials: list[WebAuthnCredential]) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=c.credential_id) for c in credentials]


def registration_options(
    rp: RelyingParty, *, user_handle: bytes, user_name: str, passkey: bool, existing: list[WebAuthnCredential]
) -> tuple[str, str]:
    """(options JSON for the browser, challenge to keep)."""
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=user_handle,
        user_name=user_name,
        user_display_name=user_name,
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            # A passkey must be discoverable and verify its user: it replaces the password.
            resident_key=ResidentKeyRequirement.REQUIRED if passkey else ResidentKeyRequirement.DISCOURAGED,
            user_verification=UserVerificationRequirement.REQUIRED if passkey else UserVerificationRequirement.DISCOURAGED,
        ),
        exclude_credentials=_descriptors(existing),
    )
    return options_to_json(options), bytes_to_base64url(options.challenge)


@dataclass(frozen=True)
class NewCredential:
    credential_id: bytes
    public_key: bytes
    sign_count: int
    aaguid: str
    backed_up: bool
    transports: list[str]


def verify_registration(rp: RelyingParty, *, response: dict, challenge: str, passkey: bool) -> NewCredential:
    try:
        verified = verify_registration_response(
            credential=response,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=passkey,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise CeremonyFailed(str(exc)) from exc
    transports = response.get("response", {}).get("transports") or []
    return NewCredential(
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        aaguid=str(verified.aaguid),
        backed_up=verified.credential_backed_up,
        transports=[t for t in transports if isinstance(t, str)][:8],
    )


def authentication_options(
    rp: RelyingParty, *, credentials: list[WebAuthnCredential], require_uv: bool
) -> tuple[str, str]:
    options = generate_authentication_options(
        rp_id=rp.id,
        timeout=TIMEOUT_MS,
        allow_credentials=_descriptors(credentials),
        user_verification=UserVerificationRequirement.REQUIRED if require_uv else UserVerificationRequirement.PREFERRED,
    )
    return options_to_json(options), bytes_to_base64url(options.challenge)


def credential_id_of(response: dict) -> bytes:
    try:
        return base64url_to_bytes(response["rawId"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CeremonyFailed("malformed credential") from exc


@dataclass(frozen=True)
class Assertion:
    new_sign_count: int
    user_verified: bool


def verify_assertion(
    rp: RelyingParty, *, response: dict, challenge: str, credential: WebAuthnCredential, require_uv: bool
) -> Assertion:
    """Sign counts: a credential that always reports 0 (synced passkeys do) is fine; one that
    counts must count up, or it may be a clone (WebAuthn Level 2 §6.1.1)."""
    try:
        verified = verify_authentication_response(
            credential=response,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=credential.public_key,
            credential_current_sign_count=credential.sign_count,
            require_user_verification=require_uv,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise CeremonyFailed(str(exc), cloned="sign count" in str(exc).lower()) from exc
    return Assertion(new_sign_count=verified.new_sign_count, user_verified=verified.user_verified)


def parse(body: bytes) -> dict:
    try:
        data = json.loads(body or b"{}")
        if not isinstance(data, dict):
            raise CeremonyFailed("the request body is not a JSON object")
        _check_text(data)
    except RecursionError:
        raise CeremonyFailed("the request body is nested too deeply") from None
    except ValueError as exc:
        raise CeremonyFailed("the request body is not JSON") from exc
    return data


def _check_text(value: object) -> None:
    """JSON may spell what UTF-8 and PostgreSQL cannot hold: a lone surrogate (\\ud800) or
    NUL (\\u0000). Either is malformed input, refused here rather than failing later."""
    if isinstance(value, str):
        if "\x00" in value:
            raise CeremonyFailed("the request contains a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise CeremonyFailed("the request contains a lone surrogate, which is not text") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)
    elif isinstance(value, list):
        for item in value:
            _check_text(item)
