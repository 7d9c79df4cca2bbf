"""A Flask web app that signs people in with the provider, through Authlib's Flask client:
a confidential client, authorization code with PKCE (S256) and a nonce, the provider's
endpoints from its discovery document, sign-out through its end-session endpoint.

    pip install Flask Authlib requests
    OIDC_ISSUER=http://localhost:5000 OIDC_CLIENT_ID=… OIDC_CLIENT_SECRET=… python app.py

then open http://localhost:5002 (APP_URL moves it).
"""

import os
import secrets
from urllib.parse import urlencode, urlsplit

from authlib.integrations.flask_client import OAuth, OAuthError
from flask import Flask, abort, redirect, render_template_string, request, session, url_for

ISSUER = os.environ["OIDC_ISSUER"].rstrip("/")
APP_URL = os.environ.get("APP_URL", "http://localhost:5002").rstrip("/")

app = Flask(__name__)
# A fixed key keeps sessions across restarts (and across processes behind a real server).
app.secret_key = os.environ.get("APP_SECRET_KEY") or secrets.token_hex(32)
# Cookies do not tell ports apart: on localhost the provider's and the app's would mix.
app.config["SESSION_COOKIE_NAME"] = "flask_app_session"

oauth = OAuth(app)
oauth.register(
    "idp",
    client_id=os.environ["OIDC_CLIENT_ID"],
    client_secret=os.environ["OIDC_CLIENT_SECRET"],
    server_metadata_url=f"{ISSUER}/.well-known/openid-configuration",
    # Authlib sends a nonce for the openid scope and checks it in the ID token; with
    # code_challenge_method it adds PKCE, which the provider requires by default.
    client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256"},
)

PAGE = """<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>Flask app</title>
{% if error %}
  <p id="error">Sign-in failed: {{ error }}</p>
  <p><a href="{{ url_for('home') }}">Start again</a></p>
{% elif claims %}
  <p>Signed in as <strong id="email">{{ claims.email }}</strong></p>
  <pre id="claims">{{ claims | tojson(indent=2) }}</pre>
  <p><a id="sign-out" href="{{ url_for('logout') }}">Sign out</a></p>
{% elif signed_out %}
  <p id="signed-out">You have signed out.</p>
  <p><a id="sign-in" href="{{ url_for('login') }}">Sign in again</a></p>
{% else %}
  <p><a id="sign-in" href="{{ url_for('login') }}">Sign in</a></p>
{% endif %}
</html>
"""


@app.get("/")
def home():
    return render_template_string(PAGE, claims=session.get("claims"))


@app.get("/login")
def login():
    return oauth.idp.authorize_redirect(APP_URL + url_for("callback"))


@app.get("/callback")
def callback():
    # Checks state, exchanges the code with the secret and the PKCE verifier, and verifies
    # the ID token (signature against the JWKS, iss, aud, exp, nonce).
    token = oauth.idp.authorize_access_token()
    # The ID token says who signed in and how (sub, acr, amr); userinfo adds what the
    # scopes release (email, name).
    claims = {**token["userinfo"], **oauth.idp.userinfo(token=token)}
    session.clear()
    session["claims"] = claims
    session["id_token"] = token["id_token"]
    return redirect(url_for("home"))


@app.errorhandler(OAuthError)
def sign_in_failed(error: OAuthError):
    # A refused sign-in (error=access_denied), a mismatched state, a forged ID token.
    return render_template_string(PAGE, error=error.description or error.error), 400


@app.get("/logout")
def logout():
    # RP-Initiated Logout 1.0: with id_token_hint the provider ends its session at once
    # and sends the browser back to the registered post_logout_redirect_uri, with state.
    id_token = session.get("id_token")
    session.clear()
    if not id_token:
        return redirect(url_for("home"))
    state = secrets.token_urlsafe(16)
    session["logout_state"] = state
    end_session = oauth.idp.load_server_metadata()["end_session_endpoint"]
    return redirect(end_session + "?" + urlencode({
        "id_token_hint": id_token,
        "post_logout_redirect_uri": APP_URL + url_for("signed_out"),
        "state": state,
    }))


@app.get("/signed-out")
def signed_out():
    if request.args.get("state") != session.pop("logout_state", None):
        abort(400)
    return render_template_string(PAGE, claims=None, signed_out=True)


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=urlsplit(APP_URL).port or 80)
