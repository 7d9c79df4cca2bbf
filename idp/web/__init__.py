"""Flask blueprints: parse the request, call the domain, render or redirect."""

from flask import Flask


def register(app: Flask) -> None:
    from . import account, account_activity, admin, auth, device, errors, formatting, headers, home, language, oauth, onboarding, ops, upstream, webauthn

    app.register_blueprint(home.bp)
    app.register_blueprint(oauth.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(account_activity.bp)
    app.register_blueprint(webauthn.bp)
    app.register_blueprint(onboarding.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(upstream.bp)
    app.register_blueprint(language.bp)
    app.register_blueprint(ops.bp)
    errors.register(app)
    formatting.register(app)
    headers.register(app)
    device.register(app)
