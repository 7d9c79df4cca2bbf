"""`idp keys rotate-data-key`: every secret at rest moves to the new key, after which the old
key can leave IDP_DATA_KEYS and everything still works."""

from __future__ import annotations

import json

from sqlalchemy import insert, select

from idp import clock, create_app
from idp.extensions import db
from idp.models import Grant, RefreshToken, SigningKey, TotpFactor, Upstream
from tests.conftest import TEST_CONFIG
from tests.helpers import Actions, add_totp

OLD = TEST_CONFIG["IDP_DATA_KEYS"]
NEW = "n2:" + "B" * 43


def _sealed_refresh(app, user_id: int) -> None:  # noqa: ANN001
    """A refresh token whose successor waits, encrypted, for the client's grace window."""
    with app.app_context():
        keyring = app.extensions["idp.keyring"]
        now = clock.now()
        db.session.execute(insert(Grant), [{"id": "g1", "user_id": user_id, "client_id": "c", "scope": "openid", "auth_time": now,
                                            "acr": "pwd", "amr": ["pwd"], "created_at": now, "expires_at": now + 60}])
        db.session.execute(insert(RefreshToken), [{"token_hash": "h" * 64, "grant_id": "g1", "client_id": "c", "scope": "openid",
                                                   "issued_at": now, "rotated_at": now,
                                                   "successor_encrypted": keyring.encrypt(b"next", context=b"h" * 64)}])
        db.session.add(Upstream(name="corp", display_name="Corp", issuer="https://corp.example", client_id="x",
                                client_secret_encrypted=keyring.encrypt(b"upstream secret", context=b"upstream:corp"),
                                domains=[], trust_mfa=False, created_at=now))
        db.session.commit()


def _kids(app) -> set[str]:  # noqa: ANN001
    with app.app_context():
        values = [*db.session.scalars(select(TotpFactor.secret_encrypted)), *db.session.scalars(select(SigningKey.private_jwk_encrypted)),
                  *db.session.scalars(select(Upstream.client_secret_encrypted)),
                  *db.session.scalars(select(RefreshToken.successor_encrypted).where(RefreshToken.successor_encrypted.is_not(None)))]
    return {v.split(".")[1] for v in values}


def test_secrets_move_to_the_new_key_and_the_old_one_can_go(app, client, user, spa):
    secret = add_totp(app, user.id)
    client.get("/jwks.json")  # the signing keys exist, under the old key
    _sealed_refresh(app, user.id)
    assert _kids(app) == {"t1"}

    both = create_app({**TEST_CONFIG, "IDP_DATA_KEYS": f"{NEW},{OLD}"})
    result = both.test_cli_runner().invoke(args=["keys", "rotate-data-key", "--json", "--batch-size", "1"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["kid"] == "n2" and report["remaining"] == 0
    assert report["reencrypted"] == {"totp_factors": 1, "signing_keys": 2, "upstreams": 1, "refresh_tokens": 1}
    assert _kids(app) == {"n2"}
    again = both.test_cli_runner().invoke(args=["keys", "rotate-data-key", "--json"])
    assert json.loads(again.output)["reencrypted"] == {"totp_factors": 0, "signing_keys": 0, "upstreams": 0, "refresh_tokens": 0}

    only_new = create_app({**TEST_CONFIG, "IDP_DATA_KEYS": NEW})
    browser = only_new.test_client()
    tokens = Actions(browser).tokens(spa, acr_values="mfa", totp_secret=secret)  # TOTP decrypts, keys sign
    assert tokens["id_token"]
    with only_new.app_context():
        keyring = only_new.extensions["idp.keyring"]
        row = db.session.scalar(select(Upstream))
        assert keyring.decrypt(row.client_secret_encrypted, context=b"upstream:corp") == b"upstream secret"


def test_nothing_to_do_under_one_key(app, client):
    client.get("/jwks.json")
    result = app.test_cli_runner().invoke(args=["keys", "rotate-data-key", "--json"])
    assert json.loads(result.output)["reencrypted"]["signing_keys"] == 0
