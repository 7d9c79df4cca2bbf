"""Flask blueprints: parse the request, call the domain, render or redirect."""

from flask import Flask


def register(app: Flask) -> None:
    from . import auth, errors, headers, oauth

    app.register_blueprint(oauth.bp)
    app.register_blueprint(auth.bp)
    errors.register(app)
    headers.register(app)
